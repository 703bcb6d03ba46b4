#include "sdae/shortest_float.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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
  // The candidates are all computed and one is picked without branches: which one wins depends on
  // the value's last bits, so branches would be mispredicted about half the time.
  const std::uint32_t s = vb / 4, sp = s / 10;
  const bool up = lower <= 40 * sp, wp = 40 * sp + 40 <= upper;
  const bool fewer = s >= 10 && up != wp;  // one digit fewer, if exactly one neighbour is inside
  const bool u = lower <= 4 * s, w = 4 * s + 4 <= upper;
  const std::uint32_t mid = 4 * s + 2;
  const bool ties = u == w, rounds_up = vb > mid || (vb == mid && (s & 1) != 0);
  const std::uint32_t nearest = s + ((w & !ties) | (rounds_up & ties));  // bit operations: no jumps
  const std::uint32_t pick = 0u - static_cast<std::uint32_t>(fewer);
  return {((sp + wp) & pick) | (nearest & ~pick), k + fewer};
}

/// The digits of v < 10^8 as eight bytes, the first digit in the lowest byte, each byte 0..9
/// (not yet ASCII): two halves of four digits, then pairs, then single digits, each step one
/// multiply per lane (x * 10486 >> 20 is x / 100 below 10^4; x * 103 >> 10 is x / 10 below 100).
inline std::uint64_t eight_digits(std::uint64_t v) {
  std::uint64_t x = (v / 10000) | ((v % 10000) << 32);
  std::uint64_t y = ((x * 10486) >> 20) & 0x0000007F0000007FULL;
  x = y | ((x - y * 100) << 16);
  y = ((x * 103) >> 10) & 0x000F000F000F000FULL;
  return y | ((x - y * 10) << 8);
}

/// How one float's text is laid out, every case in one shape so that writing it takes no
/// branches: [sign] [prefix: "0.000" or nothing] [digits, a '.' after `dot` of them] [suffix].
/// `text` holds the significant digits in ASCII, '0's after them; `tail` the same from the
/// digit after the '.' on.
struct Layout {
  std::uint64_t text[2], tail[2];
  std::uint32_t sign, prefix, dot, body, suffix, suffix_len;
};

constexpr std::uint64_t kAsciiZeros = 0x3030303030303030ULL;

/// 'e', the exponent's sign and two digits (float32 exponents lie in -45..38), as four bytes.
inline std::uint32_t exponent_suffix(int e) {
  const std::uint32_t a = static_cast<std::uint32_t>(e < 0 ? -e : e), tens = a * 103 >> 10;
  return 'e' | (static_cast<std::uint32_t>(e < 0 ? '-' : '+') << 8) | (('0' + tens) << 16) |
         (('0' + a - 10 * tens) << 24);
}

/// The layout of a finite float other than 0, or false for one written another way: a float from
/// 2^24 up written in full (every such float is an integer: its exact digits, not the shortest).
/// The vector version below computes the same, eight floats at a time.
bool layout_of(std::uint32_t bits, Layout& t) {
  const std::uint32_t fraction = bits & 0x7fffff, biased = (bits >> 23) & 0xff;
  const Decimal d = to_decimal(fraction, biased);
  t.sign = bits >> 31;
  const std::uint32_t top = d.digits / 100000000;
  const std::uint64_t low = eight_digits(d.digits % 100000000);
  // Leading zeros: the low bytes that are 0; trailing zeros: the high ones (digits is not 0).
  const int lead = top ? 0 : 1 + __builtin_ctzll(low) / 8;
  const int trail = low ? __builtin_clzll(low) / 8 : 8;
  const int n = 9 - lead - trail;
  const int exponent = d.exponent + trail;  // value = DIGITS x 10^exponent
  const int point = n + exponent;           // value = 0.DIGITS x 10^point
  const int sci_len = n + (n > 1) + 4;
  const int fixed_len = exponent >= 0 ? point : point > 0 ? n + 1 : n + 2 - point;
  t.prefix = 0;
  t.suffix = 0;
  t.suffix_len = 0;
  if (fixed_len > sci_len) {  // D.IGITSe-XX (with one digit, the suffix covers the '.')
    t.dot = 1;
    t.body = static_cast<std::uint32_t>(n + (n > 1));
    t.suffix = exponent_suffix(point - 1);
    t.suffix_len = 4;
  } else if (exponent >= 0) {  // DIGITS000: '0's follow the digits; the '.' lands past the end
    if (biased > 150) return false;
    t.dot = t.body = static_cast<std::uint32_t>(point);
  } else if (point > 0) {  // DI.GITS
    t.dot = static_cast<std::uint32_t>(point);
    t.body = static_cast<std::uint32_t>(n + 1);
  } else {  // 0.000DIGITS
    t.prefix = static_cast<std::uint32_t>(2 - point);
    t.dot = t.body = static_cast<std::uint32_t>(n);
  }
  using U128 = unsigned __int128;
  const U128 text = (((static_cast<U128>(low) << 8) | top) >> (8 * lead)) +
                    ((static_cast<U128>(kAsciiZeros) << 64) | kAsciiZeros);
  const U128 tail = text >> (8 * t.dot);
  std::memcpy(t.text, &text, 16);
  std::memcpy(t.tail, &tail, 16);
  return true;
}

/// Writes a layout: six overlapping stores, whatever the case. Bytes past the returned end (up to
/// kFloatRoom from out) are scratch, written over by whatever comes next.
inline char* write_layout(char* out, const Layout& t) {
  static constexpr char kZeroPoint[17] = "0.00000000000000";
  *out = '-';
  out += t.sign;
  std::memcpy(out, kZeroPoint, 16);
  char* body = out + t.prefix;
  std::memcpy(body, t.text, 16);
  std::memcpy(body + t.dot + 1, t.tail, 16);
  body[t.dot] = '.';
  std::memcpy(body + t.body, &t.suffix, 4);
  return body + t.body + t.suffix_len;
}

/// A float32 that takes no layout: 0, a float from 2^24 written in full, inf and nan.
char* write_other(char* out, float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const std::uint32_t fraction = bits & 0x7fffff, biased = (bits >> 23) & 0xff;
  if (biased == 0xff) return std::to_chars(out, out + kFloatRoom, value).ptr;  // inf, -inf, nan
  *out = '-';
  out += bits >> 31;
  if (fraction == 0 && biased == 0) {
    *out = '0';
    return out + 1;
  }
  std::uint64_t whole = static_cast<std::uint64_t>((1u << 23) | fraction) << (biased - 150);
  int length = 1;
  for (std::uint64_t w = whole; w >= 10; w /= 10) ++length;
  for (char* p = out + length; p != out; whole /= 10) *--p = static_cast<char>('0' + whole % 10);
  return out + length;
}

inline bool plain(std::uint32_t bits) {  // finite and not zero: a layout, unless from 2^24 up
  return (bits & 0x7fffffff) != 0 && ((bits >> 23) & 0xff) != 0xff;
}

inline char* write_one(char* out, float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  Layout t;
  return plain(bits) && layout_of(bits, t) ? write_layout(out, t) : write_other(out, value);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512CD__) && defined(__AVX512DQ__)
#define SDAE_LAYOUTS8 1

/// layout_of for eight floats at once, in 64-bit lanes, each step the scalar one (the products
/// of g and a 30-bit significand from two 32 x 32-bit multiplies). Fills the fields, a lane
/// each; returns the lanes that write_other must write instead.
struct Layouts8 {
  alignas(64) std::uint64_t text0[8], text1[8], tail0[8], tail1[8], sign[8], prefix[8], dot[8], body[8],
      suffix[8], suffix_len[8];
  Layout operator[](int i) const {
    return {{text0[i], text1[i]}, {tail0[i], tail1[i]}, static_cast<std::uint32_t>(sign[i]),
            static_cast<std::uint32_t>(prefix[i]),
            static_cast<std::uint32_t>(dot[i]), static_cast<std::uint32_t>(body[i]),
            static_cast<std::uint32_t>(suffix[i]), static_cast<std::uint32_t>(suffix_len[i])};
  }
};

inline __m512i set1(std::int64_t v) { return _mm512_set1_epi64(v); }

/// round_to_odd for eight lanes: g 64 bits, x below 2^32.
inline __m512i round_to_odd8(__m512i g, __m512i x) {
  const __m512i low = _mm512_mul_epu32(g, x), high = _mm512_mul_epu32(_mm512_srli_epi64(g, 32), x);
  const __m512i t = _mm512_add_epi64(high, _mm512_srli_epi64(low, 32));  // (g x) >> 32
  const __mmask8 sticky = _mm512_cmpgt_epu64_mask(_mm512_and_si512(t, set1(0xffffffff)), set1(1));
  return _mm512_mask_or_epi64(_mm512_srli_epi64(t, 32), sticky, _mm512_srli_epi64(t, 32), set1(1));
}

__mmask8 layouts8(const float* values, Layouts8& t) {
  const __m512i bits = _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(values)));
  const __m512i zero = _mm512_setzero_si512(), one = set1(1);
  const __m512i fraction = _mm512_and_si512(bits, set1(0x7fffff));
  const __m512i biased = _mm512_and_si512(_mm512_srli_epi64(bits, 23), set1(0xff));
  __mmask8 other = _mm512_cmpeq_epi64_mask(_mm512_and_si512(bits, set1(0x7fffffff)), zero) |
                   _mm512_cmpeq_epi64_mask(biased, set1(0xff));
  const __mmask8 normal = _mm512_cmpneq_epi64_mask(biased, zero);
  const __m512i c = _mm512_mask_or_epi64(fraction, normal, fraction, set1(1 << 23));
  const __m512i q = _mm512_mask_sub_epi64(set1(-149), normal, biased, set1(150));
  // A small integer: its digits are c >> -q, exponent 0.
  const __m512i minus_q = _mm512_sub_epi64(zero, q);
  const __mmask8 integer =
      _mm512_cmple_epi64_mask(q, zero) & _mm512_cmpgt_epi64_mask(q, set1(-24)) & normal &
      _mm512_cmpeq_epi64_mask(_mm512_and_si512(c, _mm512_sub_epi64(_mm512_sllv_epi64(one, minus_q), one)), zero);
  const __m512i odd = _mm512_and_si512(c, one);
  const __mmask8 closer_below = _mm512_cmpeq_epi64_mask(fraction, zero) & _mm512_cmpgt_epi64_mask(biased, one);
  const __m512i cb = _mm512_slli_epi64(c, 2);
  const __m512i cbl = _mm512_mask_add_epi64(_mm512_sub_epi64(cb, set1(2)), closer_below, _mm512_sub_epi64(cb, set1(2)), one);
  const __m512i cbr = _mm512_add_epi64(cb, set1(2));
  // 64-bit lane products are slow (vpmullq); every factor here fits 32 bits (vpmuldq, vpmuludq).
  __m512i k = _mm512_mul_epi32(q, set1(1262611));
  k = _mm512_srai_epi64(_mm512_mask_sub_epi64(k, closer_below, k, set1(524031)), 22);
  const __m512i h = _mm512_add_epi64(
      _mm512_add_epi64(q, _mm512_srai_epi64(_mm512_mul_epi32(_mm512_sub_epi64(zero, k), set1(1741647)), 19)), one);
  const __m512i g = _mm512_i64gather_epi64(_mm512_sub_epi64(set1(-kPow10Min), k),
                                           reinterpret_cast<const long long*>(kPow10), 8);
  const __m512i vbl = round_to_odd8(g, _mm512_sllv_epi64(cbl, h));
  const __m512i vb = round_to_odd8(g, _mm512_sllv_epi64(cb, h));
  const __m512i vbr = round_to_odd8(g, _mm512_sllv_epi64(cbr, h));
  const __m512i lower = _mm512_add_epi64(vbl, odd), upper = _mm512_sub_epi64(vbr, odd);
  const __m512i sv = _mm512_srli_epi64(vb, 2);
  const __m512i sp = _mm512_srli_epi64(_mm512_mul_epu32(sv, set1(0xCCCCCCCD)), 35);
  const __m512i sp40 = _mm512_mul_epu32(sp, set1(40));
  const __mmask8 up = _mm512_cmple_epi64_mask(lower, sp40);
  const __mmask8 wp = _mm512_cmple_epi64_mask(_mm512_add_epi64(sp40, set1(40)), upper);
  const __mmask8 fewer = _mm512_cmpge_epi64_mask(sv, set1(10)) & (up ^ wp);
  const __m512i s4 = _mm512_slli_epi64(sv, 2), mid = _mm512_add_epi64(s4, set1(2));
  const __mmask8 u = _mm512_cmple_epi64_mask(lower, s4);
  const __mmask8 w = _mm512_cmple_epi64_mask(_mm512_add_epi64(s4, set1(4)), upper);
  const __mmask8 rounds_up = _mm512_cmpgt_epi64_mask(vb, mid) |
                             (_mm512_cmpeq_epi64_mask(vb, mid) & _mm512_test_epi64_mask(sv, one));
  const __mmask8 ties = static_cast<__mmask8>(~(u ^ w));
  const __mmask8 nearest_up = (w & ~ties) | (rounds_up & ties);
  __m512i digits = _mm512_mask_add_epi64(sv, nearest_up, sv, one);
  digits = _mm512_mask_mov_epi64(digits, fewer, _mm512_mask_add_epi64(sp, wp, sp, one));
  __m512i exp10 = _mm512_mask_add_epi64(k, fewer, k, one);
  digits = _mm512_mask_srlv_epi64(digits, integer, c, minus_q);
  exp10 = _mm512_mask_mov_epi64(exp10, integer, zero);
  // The nine digits: the top one, then eight_digits of the rest.
  // digits < 10^9: d * 720575941 >> 56 is d / 10^8 (the error stays below 10^-8), and below 10^8
  // d * 109951163 >> 40 is d / 10^4. Then eight_digits' steps in 32- and 16-bit lanes.
  const __m512i top = _mm512_srli_epi64(_mm512_mul_epu32(digits, set1(720575941)), 56);
  const __m512i rest = _mm512_sub_epi64(digits, _mm512_mul_epu32(top, set1(100000000)));
  const __m512i half = _mm512_srli_epi64(_mm512_mul_epu32(rest, set1(109951163)), 40);
  __m512i x = _mm512_or_si512(half, _mm512_slli_epi64(_mm512_sub_epi64(rest, _mm512_mul_epu32(half, set1(10000))), 32));
  __m512i y = _mm512_and_si512(_mm512_srli_epi32(_mm512_mullo_epi32(x, _mm512_set1_epi32(10486)), 20), _mm512_set1_epi32(0x7F));
  x = _mm512_or_si512(y, _mm512_slli_epi32(_mm512_sub_epi32(x, _mm512_mullo_epi32(y, _mm512_set1_epi32(100))), 16));
  y = _mm512_and_si512(_mm512_srli_epi16(_mm512_mullo_epi16(x, _mm512_set1_epi16(103)), 10), _mm512_set1_epi16(0xF));
  const __m512i low = _mm512_or_si512(y, _mm512_slli_epi16(_mm512_sub_epi16(x, _mm512_mullo_epi16(y, _mm512_set1_epi16(10))), 8));
  const __mmask8 has_top = _mm512_cmpneq_epi64_mask(top, zero);
  const __m512i lowest = _mm512_and_si512(low, _mm512_sub_epi64(zero, low));
  const __m512i ctz = _mm512_sub_epi64(set1(63), _mm512_lzcnt_epi64(lowest));
  const __m512i lead = _mm512_maskz_add_epi64(static_cast<__mmask8>(~has_top), _mm512_srli_epi64(ctz, 3), one);
  const __m512i trail = _mm512_srli_epi64(_mm512_lzcnt_epi64(low), 3);
  const __m512i n = _mm512_sub_epi64(_mm512_sub_epi64(set1(9), lead), trail);
  const __m512i exponent = _mm512_add_epi64(exp10, trail);
  const __m512i point = _mm512_add_epi64(n, exponent);
  const __mmask8 many = _mm512_cmpgt_epi64_mask(n, one);
  const __m512i sci_len = _mm512_mask_add_epi64(_mm512_add_epi64(n, set1(4)), many, n, set1(5));
  const __mmask8 whole = _mm512_cmpge_epi64_mask(exponent, zero), after = _mm512_cmpgt_epi64_mask(point, zero);
  __m512i fixed_len = _mm512_sub_epi64(_mm512_add_epi64(n, set1(2)), point);     // 0.000DIGITS
  fixed_len = _mm512_mask_add_epi64(fixed_len, after, n, one);                      // DI.GITS
  fixed_len = _mm512_mask_mov_epi64(fixed_len, whole, point);                       // DIGITS000
  const __mmask8 sci = _mm512_cmpgt_epi64_mask(fixed_len, sci_len);
  other |= ~sci & whole & _mm512_cmpgt_epi64_mask(biased, set1(150));
  // The fields, the fixed cases first, then scientific over them.
  __m512i prefix = _mm512_maskz_sub_epi64(static_cast<__mmask8>(~after & ~whole & ~sci), set1(2), point);
  __m512i dot = _mm512_mask_mov_epi64(n, after | whole, point);
  __m512i body = _mm512_mask_add_epi64(n, after & ~whole, n, one);
  body = _mm512_mask_mov_epi64(body, whole, point);
  dot = _mm512_mask_mov_epi64(dot, sci, one);
  body = _mm512_mask_add_epi64(body, sci & many, n, one);
  body = _mm512_mask_mov_epi64(body, sci & ~many, n);
  const __m512i e = _mm512_sub_epi64(point, one);
  const __mmask8 negative = _mm512_cmplt_epi64_mask(e, zero);
  const __m512i a = _mm512_abs_epi64(e), tens = _mm512_srli_epi64(_mm512_mul_epu32(a, set1(103)), 10);
  const __m512i ones = _mm512_sub_epi64(a, _mm512_mul_epu32(tens, set1(10)));
  __m512i suffix = _mm512_mask_mov_epi64(set1('e' | ('+' << 8)), negative, set1('e' | ('-' << 8)));
  suffix = _mm512_or_si512(suffix, _mm512_slli_epi64(_mm512_add_epi64(tens, set1('0')), 16));
  suffix = _mm512_or_si512(suffix, _mm512_slli_epi64(_mm512_add_epi64(ones, set1('0')), 24));
  // The ASCII digits from the first significant one (lead bytes dropped), then from after the '.'.
  const __m512i lead8 = _mm512_slli_epi64(lead, 3), dot8 = _mm512_slli_epi64(dot, 3);
  __m512i text0 = _mm512_srlv_epi64(low, _mm512_sub_epi64(lead8, set1(8)));
  text0 = _mm512_mask_or_epi64(text0, has_top, top, _mm512_slli_epi64(low, 8));
  const __m512i text1 = _mm512_add_epi64(_mm512_maskz_srli_epi64(has_top, low, 56), set1(kAsciiZeros));
  text0 = _mm512_add_epi64(text0, set1(kAsciiZeros));
  const __m512i tail0 = _mm512_or_si512(
      _mm512_or_si512(_mm512_srlv_epi64(text0, dot8), _mm512_sllv_epi64(text1, _mm512_sub_epi64(set1(64), dot8))),
      _mm512_srlv_epi64(text1, _mm512_sub_epi64(dot8, set1(64))));
  _mm512_store_si512(t.text0, text0);
  _mm512_store_si512(t.text1, text1);
  _mm512_store_si512(t.tail0, tail0);
  _mm512_store_si512(t.tail1, _mm512_srlv_epi64(text1, dot8));
  _mm512_store_si512(t.sign, _mm512_srli_epi64(bits, 31));
  _mm512_store_si512(t.prefix, prefix);
  _mm512_store_si512(t.dot, dot);
  _mm512_store_si512(t.body, body);
  _mm512_store_si512(t.suffix, _mm512_maskz_mov_epi64(sci, suffix));
  _mm512_store_si512(t.suffix_len, _mm512_maskz_mov_epi64(sci, set1(4)));
  return other;
}
#endif

}  // namespace

char* shortest_float(char* out, float value) { return write_one(out, value); }

char* shortest_floats(char* out, const float* values, std::ptrdiff_t count, char delimiter) {
  std::ptrdiff_t i = 0;
#ifdef SDAE_LAYOUTS8
  Layouts8 t;
  for (; i + 8 <= count; i += 8) {
    const __mmask8 other = layouts8(values + i, t);
    for (int j = 0; j < 8; ++j) {
      *out = delimiter;  // written over by the first value's sign or text
      out += i + j > 0;
      out = (other >> j) & 1 ? write_other(out, values[i + j]) : write_layout(out, t[j]);
    }
  }
#endif
  for (; i < count; ++i) {
    if (i) *out++ = delimiter;
    out = write_one(out, values[i]);
  }
  return out;
}

}  // namespace sdae
