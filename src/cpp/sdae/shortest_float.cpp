#include "sdae/shortest_float.hpp"

#include <cstdint>
#include <cstring>

namespace sdae {
namespace {

/// ceil(10^k / 2^r) for k = -31..45, r = floor(log2(10^k)) - 63: 10^k with 64 significant bits,
/// rounded up (computed exactly, with Python's fractions).
constexpr int kPow10Min = -31;
constexpr std::uint64_t kPow10[] = {
    0x81CEB32C4B43FCF5, 0xA2425FF75E14FC32, 0xCAD2F7F5359A3B3F, 0xFD87B5F28300CA0E,
    0x9E74D1B791E07E49, 0xC612062576589DDB, 0xF79687AED3EEC552, 0x9ABE14CD44753B53,
    0xC16D9A0095928A28, 0xF1C90080BAF72CB2, 0x971DA05074DA7BEF, 0xBCE5086492111AEB,
    0xEC1E4A7DB69561A6, 0x9392EE8E921D5D08, 0xB877AA3236A4B44A, 0xE69594BEC44DE15C,
    0x901D7CF73AB0ACDA, 0xB424DC35095CD810, 0xE12E13424BB40E14, 0x8CBCCC096F5088CC,
    0xAFEBFF0BCB24AAFF, 0xDBE6FECEBDEDD5BF, 0x89705F4136B4A598, 0xABCC77118461CEFD,
    0xD6BF94D5E57A42BD, 0x8637BD05AF6C69B6, 0xA7C5AC471B478424, 0xD1B71758E219652C,
    0x83126E978D4FDF3C, 0xA3D70A3D70A3D70B, 0xCCCCCCCCCCCCCCCD, 0x8000000000000000,
    0xA000000000000000, 0xC800000000000000, 0xFA00000000000000, 0x9C40000000000000,
    0xC350000000000000, 0xF424000000000000, 0x9896800000000000, 0xBEBC200000000000,
    0xEE6B280000000000, 0x9502F90000000000, 0xBA43B74000000000, 0xE8D4A51000000000,
    0x9184E72A00000000, 0xB5E620F480000000, 0xE35FA931A0000000, 0x8E1BC9BF04000000,
    0xB1A2BC2EC5000000, 0xDE0B6B3A76400000, 0x8AC7230489E80000, 0xAD78EBC5AC620000,
    0xD8D726B7177A8000, 0x878678326EAC9000, 0xA968163F0A57B400, 0xD3C21BCECCEDA100,
    0x84595161401484A0, 0xA56FA5B99019A5C8, 0xCECB8F27F4200F3A, 0x813F3978F8940985,
    0xA18F07D736B90BE6, 0xC9F2C9CD04674EDF, 0xFC6F7C4045812297, 0x9DC5ADA82B70B59E,
    0xC5371912364CE306, 0xF684DF56C3E01BC7, 0x9A130B963A6C115D, 0xC097CE7BC90715B4,
    0xF0BDC21ABB48DB21, 0x96769950B50D88F5, 0xBC143FA4E250EB32, 0xEB194F8E1AE525FE,
    0x92EFD1B8D0CF37BF, 0xB7ABC627050305AE, 0xE596B7B0C643C71A, 0x8F7E32CE7BEA5C70,
    0xB35DBF821AE4F38C,
};

/// floor(x / 2^n), x possibly negative (an arithmetic shift).
constexpr std::int32_t floor_shift(std::int32_t x, int n) { return x >> n; }

/// The top 32 bits of g * cp / 2^64, with the bits below folded in as an odd last bit ("round
/// to odd"): enough to compare the scaled bounds exactly.
inline std::uint32_t round_to_odd(std::uint64_t g, std::uint32_t cp) {
  const unsigned __int128 p = static_cast<unsigned __int128>(g) * cp;
  const auto hi = static_cast<std::uint32_t>(static_cast<std::uint64_t>(p >> 64));
  const auto lo = static_cast<std::uint32_t>(static_cast<std::uint64_t>(p) >> 32);
  return hi | (lo > 1);
}

struct Decimal {
  std::uint32_t digits;  // at most 9 digits
  std::int32_t exponent;  // value = digits 10^exponent
};

/// The shortest decimal in the float's rounding interval, the nearest among those (ties to
/// even). @param fraction, biased the float's 23 fraction bits and biased exponent (finite, not 0)
Decimal to_decimal(std::uint32_t fraction, std::uint32_t biased) {
  std::uint32_t c;
  std::int32_t q;
  if (biased != 0) {
    c = (1u << 23) | fraction;
    q = static_cast<std::int32_t>(biased) - 150;
    if (q <= 0 && q > -24 && (c & ((1u << -q) - 1)) == 0) return {c >> -q, 0};  // a small integer
  } else {
    c = fraction;
    q = -149;
  }
  const bool even = (c & 1) == 0;
  // At a power of two the gap below is half the gap above.
  const bool closer_below = fraction == 0 && biased > 1;
  const std::uint32_t cbl = 4 * c - 2 + closer_below, cb = 4 * c, cbr = 4 * c + 2;
  const std::int32_t k = floor_shift(q * 1262611 - (closer_below ? 524031 : 0), 22);  // floor(log10(2^q)), or of 3/4 2^q
  const std::int32_t h = q + floor_shift(-k * 1741647, 19) + 1;  // 1..4
  const std::uint64_t g = kPow10[-k - kPow10Min];
  const std::uint32_t vbl = round_to_odd(g, cbl << h), vb = round_to_odd(g, cb << h), vbr = round_to_odd(g, cbr << h);
  const std::uint32_t lower = vbl + !even, upper = vbr - !even;
  const std::uint32_t s = vb / 4;
  if (s >= 10) {  // one digit fewer, if exactly one of its two neighbours is in the interval
    const std::uint32_t sp = s / 10;
    const bool up = lower <= 40 * sp, wp = 40 * sp + 40 <= upper;
    if (up != wp) return {sp + wp, k + 1};
  }
  const bool u = lower <= 4 * s, w = 4 * s + 4 <= upper;
  if (u != w) return {s + w, k};
  const std::uint32_t mid = 4 * s + 2;
  return {s + (vb > mid || (vb == mid && (s & 1) != 0)), k};
}

int count_digits(std::uint32_t v) {
  int n = 1;
  while (v >= 10) v /= 10, ++n;
  return n;
}

/// The n digits of v at out.
void write_digits(char* out, std::uint32_t v, int n) {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char* p = out + n;
  while (v >= 100) {
    p -= 2;
    std::memcpy(p, kPairs + 2 * (v % 100), 2);
    v /= 100;
  }
  if (v >= 10) {
    p -= 2;
    std::memcpy(p, kPairs + 2 * v, 2);
  } else {
    *--p = static_cast<char>('0' + v);
  }
}

}  // namespace

char* shortest_float(char* out, float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if (bits >> 31) *out++ = '-';
  const std::uint32_t fraction = bits & 0x7fffff, biased = (bits >> 23) & 0xff;
  if (fraction == 0 && biased == 0) {
    *out = '0';
    return out + 1;
  }
  Decimal d = to_decimal(fraction, biased);
  while (d.digits % 10 == 0) d.digits /= 10, ++d.exponent;  // trailing zeros belong to the exponent
  const int n = count_digits(d.digits);
  const int point = n + d.exponent;  // the value is 0.DIGITS x 10^point
  const int sci_exp = point - 1, sci_abs = sci_exp < 0 ? -sci_exp : sci_exp;
  const int sci_len = n + (n > 1) + 2 + (sci_abs >= 100 ? 3 : 2);
  const int fixed_len = d.exponent >= 0 ? point : point > 0 ? n + 1 : n + 2 - point;
  if (fixed_len <= sci_len) {
    if (d.exponent >= 0 && biased > 150) {  // from 2^24 every float is an integer: its exact digits
      std::uint64_t whole = static_cast<std::uint64_t>((1u << 23) | fraction) << (biased - 150);
      for (char* p = out + point; p != out; whole /= 10) *--p = static_cast<char>('0' + whole % 10);
      return out + point;
    }
    if (d.exponent >= 0) {  // DIGITS000 (below 2^24 the same as the exact integer)
      write_digits(out, d.digits, n);
      std::memset(out + n, '0', static_cast<std::size_t>(d.exponent));
      return out + point;
    }
    if (point > 0) {  // DI.GITS
      write_digits(out + 1, d.digits, n);
      std::memmove(out, out + 1, static_cast<std::size_t>(point));
      out[point] = '.';
      return out + n + 1;
    }
    out[0] = '0';  // 0.000DIGITS
    out[1] = '.';
    std::memset(out + 2, '0', static_cast<std::size_t>(-point));
    write_digits(out + 2 - point, d.digits, n);
    return out + fixed_len;
  }
  write_digits(out + 1, d.digits, n);  // D.IGITSe+XX
  out[0] = out[1];
  char* p = out + 1;
  if (n > 1) *p = '.', p += n;
  *p++ = 'e';
  *p++ = sci_exp < 0 ? '-' : '+';
  if (sci_abs >= 100) *p++ = static_cast<char>('0' + sci_abs / 100);
  *p++ = static_cast<char>('0' + sci_abs / 10 % 10);
  *p++ = static_cast<char>('0' + sci_abs % 10);
  return p;
}

}  // namespace sdae
