#include "ecq/runtime/format.h"

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace ecq {
namespace {

// Text written into a caller's buffer. It counts every character, also
// those past the buffer's end, so the caller learns the full length.
class Output {
 public:
  Output(char* buffer, std::size_t capacity) : buffer_(buffer), capacity_(capacity) {}

  void put(char c) {
    if (length_ + 1 < capacity_) {
      buffer_[length_] = c;
    }
    ++length_;
  }

  void put_repeated(char c, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      put(c);
    }
  }

  void put_text(const char* text, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      put(text[i]);
    }
  }

  std::size_t finish() {
    if (capacity_ > 0) {
      buffer_[length_ < capacity_ ? length_ : capacity_ - 1] = '\0';
    }
    return length_;
  }

 private:
  char* buffer_;
  std::size_t capacity_;
  std::size_t length_ = 0;
};

enum class Length { kDefault, kChar, kShort, kLong, kLongLong, kLongDouble, kSize, kMax, kPtrdiff };

// One conversion specification: %[flags][width][.precision][length]conversion.
struct Spec {
  bool left = false;
  bool plus = false;
  bool space = false;
  bool alternate = false;
  bool zero = false;
  std::size_t width = 0;
  int precision = -1;  // -1 when absent
  Length length = Length::kDefault;
  char conversion = '\0';
};

// A sign or base prefix of at most two characters, such as "-" or "0x".
struct Prefix {
  char text[3] = {};
  std::size_t size = 0;

  void add(char c) { text[size++] = c; }
};

// Writes prefix and body into the field width: spaces before them, spaces
// after them with the - flag, or zeros between them with the 0 flag.
template <typename WriteBody>
void write_field(Output& out, const Spec& spec, const Prefix& prefix, std::size_t body_size, bool zero_pad,
                 WriteBody write_body) {
  const std::size_t size = prefix.size + body_size;
  const std::size_t fill = spec.width > size ? spec.width - size : 0;
  if (!spec.left && !(zero_pad && spec.zero)) {
    out.put_repeated(' ', fill);
  }
  out.put_text(prefix.text, prefix.size);
  if (!spec.left && zero_pad && spec.zero) {
    out.put_repeated('0', fill);
  }
  write_body();
  if (spec.left) {
    out.put_repeated(' ', fill);
  }
}

Prefix sign_prefix(const Spec& spec, bool negative) {
  Prefix prefix;
  if (negative) {
    prefix.add('-');
  } else if (spec.plus) {
    prefix.add('+');
  } else if (spec.space) {
    prefix.add(' ');
  }
  return prefix;
}

void format_integer(Output& out, const Spec& spec, std::uint64_t magnitude, bool negative) {
  const char conversion = spec.conversion;
  const unsigned base = conversion == 'o' ? 8 : (conversion == 'x' || conversion == 'X' || conversion == 'p') ? 16 : 10;
  const char* symbols = conversion == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  // Digits from the least significant; 22 octal digits hold 64 bits.
  char digits[24];
  std::size_t count = 0;
  const bool nonzero = magnitude != 0;

  if (nonzero || spec.precision != 0) {
    do {
      digits[count++] = symbols[magnitude % base];
      magnitude /= base;
    } while (magnitude != 0);
  }
  std::size_t zeros = spec.precision > 0 && static_cast<std::size_t>(spec.precision) > count
                          ? static_cast<std::size_t>(spec.precision) - count
                          : 0;
  if (spec.alternate && conversion == 'o' && zeros == 0 && (count == 0 || digits[count - 1] != '0')) {
    zeros = 1;
  }

  Prefix prefix = conversion == 'd' || conversion == 'i' ? sign_prefix(spec, negative) : Prefix{};
  if (base == 16 && nonzero && (spec.alternate || conversion == 'p')) {
    prefix.add('0');
    prefix.add(conversion == 'X' ? 'X' : 'x');
  }
  write_field(out, spec, prefix, zeros + count, spec.precision < 0, [&] {
    out.put_repeated('0', zeros);
    for (std::size_t i = count; i > 0; --i) {
      out.put(digits[i - 1]);
    }
  });
}

// The doubles 10^0 to 10^22, all exact.
constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr int kMaxExactPower = 22;

// An unevaluated sum hi + lo with |lo| <= ulp(hi) / 2, about 106 bits.
struct Wide {
  double hi;
  double lo;
};

// Returns a + b as hi + lo for |a| >= |b|.
Wide quick_two_sum(double a, double b) {
  const double sum = a + b;
  return Wide{sum, b - (sum - a)};
}

// Returns a * b exactly as hi + lo: Dekker's product with Veltkamp's split,
// which needs no FMA. Device code is built with -ffp-contract=off, so the
// compiler does not fuse these steps. Exact while a, b and the product are
// normal and below about 1e300.
Wide exact_product(double a, double b) {
  const auto split = [](double x, double* high, double* low) {
    const double scaled = 134217729.0 * x;  // 2^27 + 1
    *high = scaled - (scaled - x);
    *low = x - *high;
  };
  double a_high = 0.0;
  double a_low = 0.0;
  double b_high = 0.0;
  double b_low = 0.0;
  split(a, &a_high, &a_low);
  split(b, &b_high, &b_low);
  const double product = a * b;
  const double error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low;
  return Wide{product, error};
}

Wide multiply(Wide x, double factor) {
  const Wide product = exact_product(x.hi, factor);
  return quick_two_sum(product.hi, product.lo + x.lo * factor);
}

Wide divide(Wide x, double divisor) {
  const double quotient = x.hi / divisor;
  const Wide back = exact_product(quotient, divisor);
  // x.hi - back.hi is exact because the two are within a factor of 2.
  const double remainder = ((x.hi - back.hi) - back.lo) + x.lo;
  return quick_two_sum(quotient, remainder / divisor);
}

// Returns value * 10^exponent for a finite value > 0. With |exponent| <= 22
// it is one exact product or one division with its exact remainder, and
// beyond that a few steps of about 106 bits each.
Wide scale_by_power_of_ten(double value, int exponent) {
  // Exact binary scaling keeps Dekker's split away from overflow and from
  // subnormal numbers; it is undone at the end.
  double binary_scale = 1.0;
  if (value > 1e300) {
    value *= 0x1p-128;
    binary_scale = 0x1p128;
  } else if (value < 1e-290) {
    value *= 0x1p128;
    binary_scale = 0x1p-128;
  }
  Wide scaled{value, 0.0};
  while (exponent > kMaxExactPower) {
    scaled = multiply(scaled, kPowersOfTen[kMaxExactPower]);
    exponent -= kMaxExactPower;
  }
  while (exponent < -kMaxExactPower) {
    scaled = divide(scaled, kPowersOfTen[kMaxExactPower]);
    exponent += kMaxExactPower;
  }
  scaled = exponent >= 0 ? multiply(scaled, kPowersOfTen[exponent]) : divide(scaled, kPowersOfTen[-exponent]);
  return Wide{scaled.hi * binary_scale, scaled.lo * binary_scale};
}

// Returns the sign of (x - 0.5) for x = fraction + low with fraction in
// [0, 16] and |low| small, without rounding x first.
int compare_with_half(double fraction, double low) {
  // fraction - 0.5 is exact for fraction >= 0.25, and below that x < 0.5
  // whatever the rounding.
  const double difference = (fraction - 0.5) + low;
  return difference > 0.0 ? 1 : (difference < 0.0 ? -1 : 0);
}

// Significant digits that the formatter computes; 17 identify every double.
constexpr int kMaxDigits = 17;

// A decimal value digits[0].digits[1]... x 10^exponent. Digits past count
// are zeros.
struct Decimal {
  char digits[kMaxDigits] = {'0'};
  int count = 1;
  int exponent = 0;

  char digit_at(int power) const {
    const int index = exponent - power;
    return index >= 0 && index < count ? digits[index] : '0';
  }
};

// Rounds a finite value > 0 to `count` significant digits (1 to 17), ties to
// even.
Decimal round_to_digits(double value, int count) {
  int binary_exponent = 0;
  (void)std::frexp(value, &binary_exponent);
  // 2^(binary_exponent - 1) <= value < 2^binary_exponent, so the decimal
  // exponent is floor((binary_exponent - 1) * log10(2)) or one more.
  // (e * 78913) >> 18 is floor(e * log10(2)) for |e| <= 1650 (the estimate
  // Ryu uses). The loops below correct the estimate if scaling rounds across
  // a power of ten.
  int exponent = ((binary_exponent - 1) * 78913) >> 18;

  Wide scaled = scale_by_power_of_ten(value, count - 1 - exponent);
  while (scaled.hi >= kPowersOfTen[count]) {
    ++exponent;
    scaled = scale_by_power_of_ten(value, count - 1 - exponent);
  }
  while (scaled.hi < kPowersOfTen[count - 1]) {
    --exponent;
    scaled = scale_by_power_of_ten(value, count - 1 - exponent);
  }

  // integer + fraction + scaled.lo is the scaled value. Above 2^53, hi is an
  // integer and lo can exceed 1 in magnitude, so the loops move whole units
  // (exactly) until fraction + lo is in [0, 1).
  auto integer = static_cast<std::uint64_t>(scaled.hi);
  double fraction = scaled.hi - static_cast<double>(integer);
  while (fraction + scaled.lo < 0.0) {
    --integer;
    fraction += 1.0;
  }
  while (fraction + scaled.lo >= 1.0) {
    ++integer;
    fraction -= 1.0;
  }
  const int versus_half = compare_with_half(fraction, scaled.lo);
  if (versus_half > 0 || (versus_half == 0 && (integer & 1u) != 0)) {
    ++integer;
  }

  // Rounding 99...9.5 up carries into one more digit.
  if (integer >= static_cast<std::uint64_t>(kPowersOfTen[count])) {
    integer /= 10;
    ++exponent;
  }
  Decimal decimal;
  decimal.count = count;
  decimal.exponent = exponent;
  for (int i = count - 1; i >= 0; --i) {
    decimal.digits[i] = static_cast<char>('0' + integer % 10);
    integer /= 10;
  }
  return decimal;
}

// Rounds a finite value >= 0 to the power 10^-fraction_digits, as %f does.
Decimal round_to_fraction(double value, int fraction_digits) {
  if (value == 0.0) {
    return Decimal{};
  }
  const Decimal estimate = round_to_digits(value, kMaxDigits);
  const int count = estimate.exponent + 1 + fraction_digits;
  if (count >= kMaxDigits) {
    return estimate;
  }
  if (count >= 1) {
    return round_to_digits(value, count);
  }
  // The value is below 10^-fraction_digits: it rounds to 0 or to that unit.
  Decimal decimal;
  const Wide units = count == 0 ? scale_by_power_of_ten(value, fraction_digits) : Wide{0.0, 0.0};
  if (compare_with_half(units.hi, units.lo) > 0) {
    decimal.digits[0] = '1';
    decimal.exponent = -fraction_digits;
  }
  return decimal;
}

// Placement of the digits of a floating-point conversion.
struct FloatLayout {
  Decimal decimal;
  bool scientific = false;
  int fraction_digits = 0;
  bool point = false;
  bool upper = false;
};

std::size_t exponent_digit_count(int exponent) {
  std::size_t count = 2;
  for (int rest = exponent < 0 ? -exponent : exponent; rest >= 100; rest /= 10) {
    ++count;
  }
  return count;
}

std::size_t body_size(const FloatLayout& layout) {
  const std::size_t fraction = static_cast<std::size_t>(layout.fraction_digits) + (layout.point ? 1 : 0);
  if (layout.scientific) {
    return 1 + fraction + 2 + exponent_digit_count(layout.decimal.exponent);
  }
  const int exponent = layout.decimal.exponent;
  return static_cast<std::size_t>(exponent > 0 ? exponent + 1 : 1) + fraction;
}

void write_body(Output& out, const FloatLayout& layout) {
  const Decimal& decimal = layout.decimal;
  const int first = layout.scientific ? decimal.exponent : (decimal.exponent > 0 ? decimal.exponent : 0);
  for (int power = first; power >= (layout.scientific ? decimal.exponent : 0); --power) {
    out.put(decimal.digit_at(power));
  }
  if (layout.point) {
    out.put('.');
  }
  const int fraction_start = layout.scientific ? decimal.exponent - 1 : -1;
  for (int i = 0; i < layout.fraction_digits; ++i) {
    out.put(decimal.digit_at(fraction_start - i));
  }
  if (!layout.scientific) {
    return;
  }
  out.put(layout.upper ? 'E' : 'e');
  out.put(decimal.exponent < 0 ? '-' : '+');
  char digits[8];
  std::size_t count = 0;
  for (int rest = decimal.exponent < 0 ? -decimal.exponent : decimal.exponent; rest != 0 || count < 2; rest /= 10) {
    digits[count++] = static_cast<char>('0' + rest % 10);
  }
  for (std::size_t i = count; i > 0; --i) {
    out.put(digits[i - 1]);
  }
}

// Lays out a finite value >= 0 for %f, %e or %g as C99 (7.19.6.1) defines
// them: %g uses %e style when the exponent X is below -4 or at least the
// precision P, and %f style with precision P - 1 - X otherwise.
FloatLayout lay_out_float(double value, const Spec& spec) {
  FloatLayout layout;
  const char conversion = spec.conversion;
  layout.upper = conversion == 'E' || conversion == 'G' || conversion == 'F';
  const int precision = spec.precision < 0 ? 6 : spec.precision;
  if (conversion == 'f' || conversion == 'F') {
    layout.decimal = round_to_fraction(value, precision);
    layout.fraction_digits = precision;
  } else if (conversion == 'e' || conversion == 'E') {
    layout.scientific = true;
    layout.fraction_digits = precision;
    if (value != 0.0) {
      layout.decimal = round_to_digits(value, precision + 1 < kMaxDigits ? precision + 1 : kMaxDigits);
    }
  } else {
    const int significant = precision == 0 ? 1 : precision;
    if (value != 0.0) {
      layout.decimal = round_to_digits(value, significant < kMaxDigits ? significant : kMaxDigits);
    }
    const int exponent = layout.decimal.exponent;
    layout.scientific = exponent < -4 || exponent >= significant;
    layout.fraction_digits = layout.scientific ? significant - 1 : significant - 1 - exponent;
    if (!spec.alternate) {
      const int last_fraction_power = layout.scientific ? exponent - layout.fraction_digits : -layout.fraction_digits;
      int power = last_fraction_power;
      while (layout.fraction_digits > 0 && layout.decimal.digit_at(power) == '0') {
        --layout.fraction_digits;
        ++power;
      }
    }
  }
  layout.point = layout.fraction_digits > 0 || spec.alternate;
  return layout;
}

void format_float(Output& out, const Spec& spec, double value) {
  const Prefix prefix = sign_prefix(spec, std::signbit(value));
  const double magnitude = std::fabs(value);
  if (!std::isfinite(magnitude)) {
    const bool upper = spec.conversion == 'E' || spec.conversion == 'G' || spec.conversion == 'F';
    const char* text = upper ? "INF" : "inf";
    if (std::isnan(magnitude)) {
      text = upper ? "NAN" : "nan";
    }
    write_field(out, spec, prefix, 3, false, [&] { out.put_text(text, 3); });
    return;
  }
  const FloatLayout layout = lay_out_float(magnitude, spec);
  write_field(out, spec, prefix, body_size(layout), true, [&] { write_body(out, layout); });
}

std::int64_t fetch_signed(va_list* arguments, Length length) {
  switch (length) {
    case Length::kChar: return static_cast<signed char>(va_arg(*arguments, int));
    case Length::kShort: return static_cast<short>(va_arg(*arguments, int));
    case Length::kLong: return va_arg(*arguments, long);
    case Length::kLongLong: return va_arg(*arguments, long long);
    case Length::kSize: return va_arg(*arguments, std::make_signed_t<std::size_t>);
    case Length::kMax: return va_arg(*arguments, std::intmax_t);
    case Length::kPtrdiff: return va_arg(*arguments, std::ptrdiff_t);
    case Length::kDefault:
    case Length::kLongDouble: break;
  }
  return va_arg(*arguments, int);
}

std::uint64_t fetch_unsigned(va_list* arguments, Length length) {
  switch (length) {
    case Length::kChar: return static_cast<unsigned char>(va_arg(*arguments, unsigned));
    case Length::kShort: return static_cast<unsigned short>(va_arg(*arguments, unsigned));
    case Length::kLong: return va_arg(*arguments, unsigned long);
    case Length::kLongLong: return va_arg(*arguments, unsigned long long);
    case Length::kSize: return va_arg(*arguments, std::size_t);
    case Length::kMax: return va_arg(*arguments, std::uintmax_t);
    case Length::kPtrdiff: return static_cast<std::uint64_t>(va_arg(*arguments, std::ptrdiff_t));
    case Length::kDefault:
    case Length::kLongDouble: break;
  }
  return va_arg(*arguments, unsigned);
}

std::size_t parse_number(const char** cursor) {
  std::size_t number = 0;
  while (**cursor >= '0' && **cursor <= '9') {
    number = number * 10 + static_cast<std::size_t>(**cursor - '0');
    ++*cursor;
  }
  return number;
}

// Parses the flags, width, precision and length of a specification after
// its '%', leaving *cursor at the conversion character.
Spec parse_spec(const char** cursor, va_list* arguments) {
  Spec spec;
  for (;; ++*cursor) {
    const char c = **cursor;
    if (c == '-') {
      spec.left = true;
    } else if (c == '+') {
      spec.plus = true;
    } else if (c == ' ') {
      spec.space = true;
    } else if (c == '#') {
      spec.alternate = true;
    } else if (c == '0') {
      spec.zero = true;
    } else {
      break;
    }
  }
  if (**cursor == '*') {
    const int width = va_arg(*arguments, int);
    spec.left = spec.left || width < 0;
    spec.width = width < 0 ? 0u - static_cast<unsigned>(width) : static_cast<unsigned>(width);
    ++*cursor;
  } else {
    spec.width = parse_number(cursor);
  }
  if (**cursor == '.') {
    ++*cursor;
    if (**cursor == '*') {
      const int precision = va_arg(*arguments, int);
      spec.precision = precision < 0 ? -1 : precision;
      ++*cursor;
    } else {
      const std::size_t precision = parse_number(cursor);
      spec.precision = precision > 4096 ? 4096 : static_cast<int>(precision);
    }
  }
  const char c = **cursor;
  const char next = c != '\0' ? (*cursor)[1] : '\0';
  if (c == 'h' && next == 'h') {
    spec.length = Length::kChar;
  } else if (c == 'l' && next == 'l') {
    spec.length = Length::kLongLong;
  } else if (c == 'h') {
    spec.length = Length::kShort;
  } else if (c == 'l') {
    spec.length = Length::kLong;
  } else if (c == 'L') {
    spec.length = Length::kLongDouble;
  } else if (c == 'z') {
    spec.length = Length::kSize;
  } else if (c == 'j') {
    spec.length = Length::kMax;
  } else if (c == 't') {
    spec.length = Length::kPtrdiff;
  }
  if (spec.length == Length::kChar || spec.length == Length::kLongLong) {
    *cursor += 2;
  } else if (spec.length != Length::kDefault) {
    ++*cursor;
  }
  spec.conversion = **cursor;
  return spec;
}

void format_string(Output& out, const Spec& spec, const char* text) {
  if (text == nullptr) {
    text = "(null)";
  }
  std::size_t size = 0;
  while (text[size] != '\0' && (spec.precision < 0 || size < static_cast<std::size_t>(spec.precision))) {
    ++size;
  }
  write_field(out, spec, Prefix{}, size, false, [&] { out.put_text(text, size); });
}

// Formats one conversion; returns false for an unknown conversion character.
bool format_conversion(Output& out, Spec spec, va_list* arguments) {
  switch (spec.conversion) {
    case 'd':
    case 'i': {
      const std::int64_t value = fetch_signed(arguments, spec.length);
      const std::uint64_t magnitude =
          value < 0 ? 0u - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
      format_integer(out, spec, magnitude, value < 0);
      return true;
    }
    case 'u':
    case 'o':
    case 'x':
    case 'X': format_integer(out, spec, fetch_unsigned(arguments, spec.length), false); return true;
    case 'p': {
      const void* pointer = va_arg(*arguments, void*);
      if (pointer == nullptr) {
        spec.precision = -1;
        format_string(out, spec, "(nil)");
      } else {
        format_integer(out, spec, reinterpret_cast<std::uintptr_t>(pointer), false);
      }
      return true;
    }
    case 'c': {
      const char c = static_cast<char>(va_arg(*arguments, int));
      write_field(out, spec, Prefix{}, 1, false, [&] { out.put(c); });
      return true;
    }
    case 's': format_string(out, spec, va_arg(*arguments, const char*)); return true;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      const double value = spec.length == Length::kLongDouble ? static_cast<double>(va_arg(*arguments, long double))
                                                              : va_arg(*arguments, double);
      format_float(out, spec, value);
      return true;
    }
    case '%': out.put('%'); return true;
    default: return false;
  }
}

}  // namespace

std::size_t vformat_printf(char* buffer, std::size_t capacity, const char* format, va_list arguments) {
  Output out(buffer, capacity);
  // A copy, because the helpers take a pointer and a va_list parameter may be
  // an array that decays to a pointer of another type.
  va_list list;
  va_copy(list, arguments);
  const char* cursor = format;
  while (*cursor != '\0') {
    if (*cursor != '%') {
      out.put(*cursor++);
      continue;
    }
    const char* start = cursor++;
    const Spec spec = parse_spec(&cursor, &list);
    if (spec.conversion == '\0') {
      out.put_text(start, static_cast<std::size_t>(cursor - start));
      break;
    }
    ++cursor;
    if (!format_conversion(out, spec, &list)) {
      out.put_text(start, static_cast<std::size_t>(cursor - start));
    }
  }
  va_end(list);
  return out.finish();
}

std::size_t format_printf(char* buffer, std::size_t capacity, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  const std::size_t size = vformat_printf(buffer, capacity, format, arguments);
  va_end(arguments);
  return size;
}

}  // namespace ecq
