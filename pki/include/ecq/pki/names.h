#pragma once
// Rules for the names that go into certificates: device ids (the subject CN
// of a device certificate and the PSK identity), the common names of the CA
// and coordinator, and the host names of the coordinator's subjectAltName.
//
// Each check returns true for a valid name. Otherwise it returns false and
// writes a message to *error (which may be null) that quotes the name and
// states the rule it breaks.

#include <cstddef>
#include <string>

namespace ecq::pki {

/// Maximum length of a device id and of a common name, in characters. RFC
/// 5280 sets the same upper bound (ub-common-name) for the CN attribute.
constexpr std::size_t kMaxNameLength = 64;

/// Checks a device id: 1 to 64 characters of [A-Za-z0-9._-]. The id is also
/// part of file names in the CA directory (devices/ID.crt), and without '/'
/// in the character set it cannot name a file outside that directory.
bool check_device_id(const std::string& id, std::string* error);

/// Checks the common name of a CA or coordinator: 1 to 64 printable ASCII
/// characters (space to '~') other than backslash, which Mbed TLS 2.28's
/// name parser accepts only before a comma.
bool check_common_name(const std::string& name, std::string* error);

/// Checks a host name for a dNSName entry: 1 to 253 characters in labels of 1
/// to 63 letters, digits and hyphens, separated by dots, with no label
/// starting or ending with a hyphen. A first label of "*" is allowed as a
/// wildcard. Rejects names whose last label is all digits, such as
/// "127.0.0.1": Mbed TLS 2.28 checks only dNSName entries, so clients
/// connecting to an address need a name such as "localhost" that maps to it.
bool check_host_name(const std::string& host, std::string* error);

}  // namespace ecq::pki
