#pragma once
// Reading and writing the files that hold keys, certificates, PSKs and the
// CA's lists. Every file written here gets mode 0600 whatever the umask, and
// every directory made here gets mode 0700, because they contain private keys
// or decide which keys are trusted.
//
// Every function returns true on success. On failure it returns false and
// writes a message to *error (which may be null) that names the path, gives
// the system's reason (strerror) and what to check.

#include <string>

namespace ecq::pki {

/// Reads the whole file into *text. Fails when the file is missing,
/// unreadable or a directory.
bool read_text_file(const std::string& path, std::string* text, std::string* error);

/// Replaces the file at `path` with `contents` atomically: writes a
/// temporary file in the same directory with mode 0600, flushes it to disk
/// (fsync) and renames it over `path`. Readers see the old or the new
/// contents, never a mix. A file that existed with a wider mode ends up with
/// mode 0600. On failure the temporary file is removed and `path` is
/// unchanged.
bool write_private_file(const std::string& path, const std::string& contents, std::string* error);

/// Creates a new file with mode 0600 (open with O_CREAT | O_EXCL) and writes
/// `contents`. Fails without touching it when `path` already exists, so that
/// a key is never overwritten by accident.
bool create_private_file(const std::string& path, const std::string& contents, std::string* error);

/// Creates the directory `path` with mode 0700, or sets mode 0700 when it
/// already exists. Its parent must exist.
bool make_private_directory(const std::string& path, std::string* error);

/// Returns true when something (a file, directory or other entry) exists at
/// `path`.
bool path_exists(const std::string& path);

}  // namespace ecq::pki
