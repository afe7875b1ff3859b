#pragma once
// Settings that only the POSIX port has.

namespace ecq::port {

/// Sets the directory that contains the storage blobs, one file per blob with
/// the blob's name and mode 0600. The default, and the setting after a call
/// with nullptr or "", is the environment variable ECQ_STORAGE_DIR (read at
/// every storage call) or "./ecq-storage" when that is unset or empty.
///
/// The first write creates the directory with mode 0700 when it is missing,
/// but not its parent. A path longer than 3968 characters is rejected with a
/// log line, and storage calls return kError until a later call sets a valid
/// path. ECQ_STORAGE_DIR has the same limit. Thread-safe: each storage call
/// uses the directory in effect when it starts.
///
/// NOTE: writes use temporary files whose names start with '.', which no blob
/// name does. A crash during a write can leave one behind, and the port never
/// removes them.
void set_storage_directory(const char* path);

}  // namespace ecq::port
