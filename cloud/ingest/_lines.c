/* One pass from a greenwire.readings.v1 payload to InfluxDB line protocol, in C.
 *
 * The ingestor's first try for a message (cloud/ingest/fastpath.py). It reads the payload once,
 * checks it, and writes the lines the reference (cloud/ingest/points.py) writes for it, with no
 * Python object per reading other than the device id's str for the series-prefix lookup.
 *
 * It accepts a strict subset of what the contract accepts, and answers None for everything else:
 * the caller then hands the message to the msgspec path, and that one to the pydantic reference,
 * whose outcome (its lines, or its reject reason) is the answer. So this code may refuse a valid
 * message (it costs one scan), but must never accept one the reference rejects, nor write other
 * text than the reference. tests/unit/test_fastpath_differential.py holds it to that on the
 * hostile corpus and on generated messages.
 *
 * Accepted here, and nothing else:
 * - JSON with ASCII strings of printable characters and no escapes, JSON whitespace anywhere,
 *   no duplicate keys, no unknown keys, nothing after the top-level object but whitespace;
 * - "schema" exactly "greenwire.readings.v1", "gateway" exactly the topic's gateway, "seq" a
 *   JSON integer in [0, 2^63 - 1], "sent_at" and each "ts" spelt YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z
 *   with a real date and time (no leap second);
 * - 1 to max_readings readings, each with "ts", "device", "values" and an optional "quality"
 *   from the vocabulary; "values" 1 or more distinct quantity names from the vocabulary, each a
 *   finite JSON number of at most 40 characters;
 * - every ts within [earliest_us, not_after_us] (microseconds since the epoch), and every device
 *   id one the prefix mapping knows or can build (it raises KeyError for an invalid id).
 *
 * Numbers: a number spelt as the reference would write it (no exponent, at most six integer
 * digits, no trailing zero after the point, at most 15 significant digits, 1e-4 <= |v| < 1e6 or
 * zero) is copied as it is: a decimal of at most 15 significant digits is the shortest text of
 * the double it denotes (DBL_DIG), so repr gives it back unchanged (the integer -0 is written 0:
 * it is the integer zero, whose float is +0.0). A plain decimal of up to 19 significant digits
 * (what float arithmetic at the edge sends: 230.29999999999998) is converted and written by exact
 * 128-bit integer arithmetic (plain_repr). Anything else, and the ties and boundaries plain_repr
 * leaves, is parsed with CPython's correctly rounded strtod and written as format_float writes it
 * (repr for 1e-4 <= |v| < 1e6 and zero, without the ".0"; else Go's 'g' layout: d.ddde+XX).
 * Texts that needed either are remembered (MEMO_SLOTS entries, checked in full on a hit).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_NAMES 64
#define MAX_NUMBER 40
#define NAME_SLOTS 256

typedef struct {
    const char *p;
    const char *end;
} Cursor;

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buffer;

/* The vocabularies, set once by configure(): quantity names (hashed into NAME_SLOTS) and the
 * quality values with their line-protocol suffix ,quality="..." and its trailing space. */
static char *names[MAX_NAMES];
static Py_ssize_t name_len[MAX_NAMES];
static int name_count = 0;
static signed char slots[NAME_SLOTS];
static char *quality_values[16];
static Py_ssize_t quality_value_len[16];
static char *qualities[16];
static Py_ssize_t quality_len[16];
static int quality_count = 0;
static int good_quality = -1;
static Py_ssize_t max_readings = 0; /* shared.wire.MAX_READINGS_PER_BATCH, set by configure() */

/* Cheap and good enough for a fixed vocabulary of a few dozen names: length and three bytes
 * (collisions are probed past, and every match is checked with memcmp). */
static unsigned
hash_name(const char *s, Py_ssize_t n)
{
    if (n == 0) {
        return 0;
    }
    return (unsigned)n * 131u + (unsigned char)s[0] * 31u + (unsigned char)s[n / 2] * 7u
           + (unsigned char)s[n - 1] * 17u + (unsigned char)s[(n * 3) / 4];
}

static int
find_name(const char *s, Py_ssize_t n)
{
    unsigned h = hash_name(s, n);
    for (int probe = 0; probe < NAME_SLOTS; probe++) {
        int k = slots[(h + probe) % NAME_SLOTS];
        if (k < 0) {
            return -1;
        }
        if (name_len[k] == n && memcmp(names[k], s, n) == 0) {
            return k;
        }
    }
    return -1;
}

static int
reserve(Buffer *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap) {
        return 0;
    }
    Py_ssize_t cap = b->cap * 2;
    if (cap < b->len + more) {
        cap = b->len + more + 4096;
    }
    char *data = PyMem_Realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline void
put(Buffer *b, const char *s, Py_ssize_t n)
{
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static inline void
skip_ws(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static inline int
expect(Cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A string of printable ASCII without escapes: its content in [*s, *s + *n). */
static unsigned char plain_char[256];

static int
read_string(Cursor *c, const char **s, Py_ssize_t *n)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') {
        return 0;
    }
    const char *start = ++c->p;
    const char *close = memchr(start, '"', c->end - start);
    if (close == NULL) {
        return 0;
    }
    for (const char *q = start; q < close; q++) {
        if (!plain_char[(unsigned char)*q]) {
            return 0;
        }
    }
    *s = start;
    *n = close - start;
    c->p = close + 1;
    return 1;
}

/* A key and its colon. */
static int
read_key(Cursor *c, const char **s, Py_ssize_t *n)
{
    return read_string(c, s, n) && expect(c, ':');
}

/* After a member: 1 for ",", 2 for the closing bracket, 0 for anything else. */
static int
next_member(Cursor *c, char close)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        return 1;
    }
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 2;
    }
    return 0;
}

static inline int
digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* The decimal digits of v (any int64) at b's end; room for 20 bytes must be reserved. */
static void
put_int(Buffer *b, int64_t v)
{
    char text[24];
    int i = sizeof text;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        text[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        text[--i] = '-';
    }
    put(b, text + i, (Py_ssize_t)sizeof text - i);
}

/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z as microseconds since the epoch. */
static int
read_timestamp(const char *s, Py_ssize_t n, int64_t *us)
{
    int year, month, day, hour, minute, second, fraction = 0;
    if (n < 20 || n > 27 || s[n - 1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T'
        || s[13] != ':' || s[16] != ':') {
        return 0;
    }
    if (!digits(s, 4, &year) || !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day)
        || !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &minute) || !digits(s + 17, 2, &second)) {
        return 0;
    }
    if (n > 20) {
        int places = (int)n - 21;
        if (s[19] != '.' || places < 1 || !digits(s + 20, places, &fraction)) {
            return 0;
        }
        for (int i = places; i < 6; i++) {
            fraction *= 10;
        }
    }
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
        return 0;
    }
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] + (month == 2 && leap)) {
        return 0;
    }
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *us = seconds * 1000000 + fraction;
    return 1;
}

/* Shortest round-trip text of v in Go's 'g' layout for magnitudes outside [1e-4, 1e6):
 * d.ddde+XX, from repr's digits. */
static int
write_exponent(Buffer *b, double v)
{
    char *text = PyOS_double_to_string(v, 'r', 0, 0, NULL);
    if (text == NULL) {
        return -1;
    }
    char digits_buf[32];
    int nd = 0, exp10 = 0, seen_point = 0, int_digits = 0, leading_zeros = 0, started = 0;
    const char *p = text;
    int negative = (*p == '-');
    if (negative) {
        p++;
    }
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        if (!seen_point) {
            int_digits++;
        }
        if (!started && *p == '0') {
            if (seen_point) {
                leading_zeros++;
            }
            continue;
        }
        started = 1;
        if (nd < (int)sizeof(digits_buf)) {
            digits_buf[nd++] = *p;
        }
    }
    if (*p == 'e') {
        exp10 = atoi(p + 1) + int_digits - 1;
    }
    else if (int_digits == 1 && text[negative] == '0') {
        exp10 = -leading_zeros - 1;
    }
    else {
        exp10 = int_digits - 1;
    }
    PyMem_Free(text);
    while (nd > 1 && digits_buf[nd - 1] == '0') {
        nd--;
    }
    if (nd == 0) {
        return 0; /* zero never comes here */
    }
    if (reserve(b, nd + 16) < 0) {
        return -1;
    }
    if (negative) {
        put(b, "-", 1);
    }
    put(b, digits_buf, 1);
    if (nd > 1) {
        put(b, ".", 1);
        put(b, digits_buf + 1, nd - 1);
    }
    char tail[16];
    int t = snprintf(tail, sizeof tail, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    put(b, tail, t);
    return 1;
}

/* The JSON number s (n characters, valid JSON) as format_float writes its double: 1 done,
 * 0 refused (not finite), -1 error. */
static int
format_number(const char *s, Py_ssize_t n, Buffer *b)
{
    char text[MAX_NUMBER + 1];
    memcpy(text, s, n);
    text[n] = '\0';
    char *stop = NULL;
    double v = PyOS_string_to_double(text, &stop, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (stop != text + n || !isfinite(v)) {
        return 0;
    }
    double magnitude = fabs(v);
    if ((magnitude >= 1e-4 && magnitude < 1e6) || v == 0.0) {
        char *r = PyOS_double_to_string(v, 'r', 0, 0, NULL);
        if (r == NULL) {
            return -1;
        }
        Py_ssize_t rn = (Py_ssize_t)strlen(r);
        if (reserve(b, rn) < 0) {
            PyMem_Free(r);
            return -1;
        }
        put(b, r, rn);
        PyMem_Free(r);
        return 1;
    }
    return write_exponent(b, v);
}

/* Exact integer arithmetic for the plain decimals gateways send with 16 to 19 significant digits
 * (float arithmetic at the edge: 185441.72699999998): the double they denote, correctly rounded,
 * and its shortest round-trip text (what repr writes), without CPython's bignum routines. 1
 * written, 0 left to format_number (anything near a boundary or a tie, where the cases are
 * subtle and rare). */
typedef unsigned __int128 u128;

static int
bit_length(u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
    return hi ? 128 - __builtin_clzll(hi) : (lo ? 64 - __builtin_clzll(lo) : 0);
}

static u128
pow10_u128(int k)
{
    u128 p = 1;
    while (k-- > 0) {
        p *= 10;
    }
    return p;
}

static int
plain_repr(int negative, const char *int_start, Py_ssize_t int_len, const char *frac_start, Py_ssize_t frac_len,
           Buffer *b)
{
    int zero_int = (int_len == 1 && *int_start == '0');
    uint64_t d = 0;
    int significant = 0, exp10;
    if (int_len > 6 || frac_len > 21) {
        return 0;
    }
    if (!zero_int) {
        for (Py_ssize_t i = 0; i < int_len; i++) {
            d = d * 10 + (uint64_t)(int_start[i] - '0');
        }
        significant = (int)int_len;
        exp10 = (int)int_len - 1;
    }
    else {
        Py_ssize_t z = 0;
        while (z < frac_len && frac_start[z] == '0') {
            z++;
        }
        exp10 = -(int)z - 1;
    }
    for (Py_ssize_t i = 0; i < frac_len; i++) {
        d = d * 10 + (uint64_t)(frac_start[i] - '0');
        if (d) {
            significant++;
        }
        if (significant > 19) {
            return 0;
        }
    }
    if (d == 0 || exp10 < -4 || exp10 > 5) {
        return 0;
    }
    /* the double: q = d * 2^shift / 10^frac_len in [2^54, 2^56), rounded to 53 bits, half to even */
    u128 p = pow10_u128((int)frac_len);
    int shift = 55 - bit_length(d) + bit_length(p);
    u128 n = (u128)d << shift;
    u128 q = n / p;
    int sticky = (n % p) != 0;
    int drop = (q >> 55) ? 3 : 2;
    uint64_t m = (uint64_t)(q >> drop), rest = (uint64_t)(q & ((1u << drop) - 1)), half = 1u << (drop - 1);
    if (rest > half || (rest == half && (sticky || (m & 1)))) {
        m++;
    }
    int e = drop - shift;
    if (m == (uint64_t)1 << 53) {
        m >>= 1;
        e++;
    }
    /* x = m * 2^e; a power of two has a narrower interval below it: left to format_number */
    if (m == (uint64_t)1 << 52 || e >= 0 || -e > 70) {
        return 0;
    }
    int down = -e;
    u128 unit = (u128)1 << down, halfway = (u128)1 << (down - 1);
    /* the correctly rounded 15-, 16- then 17-digit decimal of x; the first that reads back as x is
     * repr's (of those that read back, the nearest; a shorter one would be this one with zeros) */
    for (int digits_p = 15; digits_p <= 17; digits_p++) {
        int j = digits_p - 1 - exp10;
        u128 scale = pow10_u128(j);
        u128 a = (u128)m * scale;
        u128 r = a >> down, left = a & (unit - 1);
        if (left == halfway) {
            return 0;
        }
        if (left > halfway) {
            r++;
        }
        if (r < pow10_u128(digits_p - 1) || r >= pow10_u128(digits_p)) {
            return 0;
        }
        u128 back = r << down;
        u128 diff = back > a ? back - a : a - back;
        if ((diff << 1) == scale) {
            return 0;
        }
        if ((diff << 1) > scale) {
            if (digits_p == 17) {
                return 0;
            }
            continue;
        }
        char text[20];
        int nd = digits_p;
        for (int i = nd - 1; i >= 0; i--) {
            text[i] = (char)('0' + (int)(r % 10));
            r /= 10;
        }
        while (nd > 1 && text[nd - 1] == '0') {
            nd--;
        }
        if (reserve(b, nd + 12) < 0) {
            return -1;
        }
        if (negative) {
            put(b, "-", 1);
        }
        if (exp10 >= 0) {
            int whole = exp10 + 1;
            for (int i = 0; i < whole; i++) {
                put(b, i < nd ? text + i : "0", 1);
            }
            if (nd > whole) {
                put(b, ".", 1);
                put(b, text + whole, nd - whole);
            }
        }
        else {
            put(b, "0.", 2);
            for (int i = 0; i < -exp10 - 1; i++) {
                put(b, "0", 1);
            }
            put(b, text, nd);
        }
        return 1;
    }
    return 0;
}

#define MEMO_SLOTS 1024
#define MEMO_TEXT 32

typedef struct {
    unsigned char in_len;
    unsigned char out_len;
    char in[MAX_NUMBER];
    char out[MEMO_TEXT];
} Memo;

/* Number texts already formatted, by the hash of their text (checked in full on a hit). */
static Memo memos[MEMO_SLOTS];

static unsigned
hash_bytes(const char *s, Py_ssize_t n)
{
    unsigned h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

/* One JSON number, written as the reference writes its float: 1 done, 0 refused, -1 error. */
static int
write_number(Cursor *c, Buffer *b)
{
    skip_ws(c);
    const char *s = c->p, *p = c->p, *end = c->end;
    if (p < end && *p == '-') {
        p++;
    }
    const char *int_start = p;
    if (p < end && *p == '0') {
        p++;
    }
    else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    else {
        return 0;
    }
    Py_ssize_t int_len = p - int_start;
    const char *frac_start = NULL;
    Py_ssize_t frac_len = 0;
    if (p < end && *p == '.') {
        frac_start = ++p;
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
        frac_len = p - frac_start;
        if (frac_len == 0) {
            return 0;
        }
    }
    int has_exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        has_exp = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        const char *exp_start = p;
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == exp_start) {
            return 0;
        }
    }
    Py_ssize_t n = p - s;
    if (n > MAX_NUMBER) {
        return 0;
    }
    c->p = p;
    /* as the reference writes it already? */
    int zero_int = (int_len == 1 && *int_start == '0');
    if (!has_exp && int_len <= 6 && !(frac_len && frac_start[frac_len - 1] == '0')) {
        Py_ssize_t significant;
        int plain = 1;
        if (zero_int) {
            Py_ssize_t z = 0;
            while (z < frac_len && frac_start[z] == '0') {
                z++;
            }
            significant = frac_len - z;
            /* 0 or -0, or at least 1e-4: the first non-zero digit within four places */
            plain = (frac_len == 0) || z < 4;
        }
        else {
            significant = int_len + frac_len;
        }
        if (plain && significant <= 15) {
            if (reserve(b, n) < 0) {
                return -1;
            }
            if (zero_int && frac_len == 0) {
                put(b, "0", 1); /* the integer -0 is the integer 0, whose float is +0.0 */
            }
            else {
                put(b, s, n);
            }
            return 1;
        }
    }
    /* Other spellings (16 or 17 digits from float arithmetic at the edge, 230.29999999999998,
     * are common) are parsed and formatted, and remembered: a meter's voltage or power factor
     * comes back with the same text reading after reading. */
    Memo *memo = &memos[hash_bytes(s, n) % MEMO_SLOTS];
    if (memo->in_len == n && memcmp(memo->in, s, n) == 0) {
        if (reserve(b, memo->out_len) < 0) {
            return -1;
        }
        put(b, memo->out, memo->out_len);
        return 1;
    }
    Py_ssize_t at = b->len;
    int done = has_exp ? 0 : plain_repr(*s == '-', int_start, int_len, frac_start, frac_len, b);
    if (done == 0) {
        b->len = at;
        done = format_number(s, n, b);
    }
    if (done == 1 && b->len - at <= MEMO_TEXT) {
        memo->in_len = (unsigned char)n;
        memcpy(memo->in, s, n);
        memo->out_len = (unsigned char)(b->len - at);
        memcpy(memo->out, b->data + at, b->len - at);
    }
    return done;
}

typedef struct {
    const char *ts;
    Py_ssize_t ts_len;
    const char *device;
    Py_ssize_t device_len;
    int quality;
    Py_ssize_t fields_at; /* the fields' text in the scratch buffer */
    Py_ssize_t fields_len;
} Reading;

/* One reading object: 1 read, 0 refused, -1 error. Its fields are appended to scratch. */
static int
read_reading(Cursor *c, Reading *r, Buffer *scratch)
{
    if (!expect(c, '{')) {
        return 0;
    }
    int have_ts = 0, have_device = 0, have_values = 0, have_quality = 0;
    r->quality = good_quality;
    for (;;) {
        const char *key;
        Py_ssize_t key_len;
        if (!read_key(c, &key, &key_len)) {
            return 0;
        }
        if (key_len == 2 && memcmp(key, "ts", 2) == 0) {
            if (have_ts++ || !read_string(c, &r->ts, &r->ts_len)) {
                return 0;
            }
        }
        else if (key_len == 6 && memcmp(key, "device", 6) == 0) {
            if (have_device++ || !read_string(c, &r->device, &r->device_len)) {
                return 0;
            }
        }
        else if (key_len == 7 && memcmp(key, "quality", 7) == 0) {
            const char *q;
            Py_ssize_t q_len;
            if (have_quality++ || !read_string(c, &q, &q_len)) {
                return 0;
            }
            r->quality = -1;
            for (int k = 0; k < quality_count; k++) {
                if (quality_value_len[k] == q_len && memcmp(quality_values[k], q, q_len) == 0) {
                    r->quality = k;
                }
            }
            if (r->quality < 0) {
                return 0;
            }
        }
        else if (key_len == 6 && memcmp(key, "values", 6) == 0) {
            if (have_values++ || !expect(c, '{')) {
                return 0;
            }
            uint64_t seen = 0;
            r->fields_at = scratch->len;
            for (;;) {
                const char *name;
                Py_ssize_t name_n;
                if (!read_key(c, &name, &name_n)) {
                    return 0;
                }
                int k = find_name(name, name_n);
                if (k < 0 || (seen & ((uint64_t)1 << k))) {
                    return 0;
                }
                seen |= (uint64_t)1 << k;
                if (reserve(scratch, name_n + 2) < 0) {
                    return -1;
                }
                if (scratch->len > r->fields_at) {
                    put(scratch, ",", 1);
                }
                put(scratch, name, name_n);
                put(scratch, "=", 1);
                int done = write_number(c, scratch);
                if (done <= 0) {
                    return done;
                }
                int more = next_member(c, '}');
                if (more == 0) {
                    return 0;
                }
                if (more == 2) {
                    break;
                }
            }
            r->fields_len = scratch->len - r->fields_at;
        }
        else {
            return 0;
        }
        int more = next_member(c, '}');
        if (more == 0) {
            return 0;
        }
        if (more == 2) {
            break;
        }
    }
    return have_ts && have_device && have_values;
}

static int
read_seq(Cursor *c, long long *seq)
{
    skip_ws(c);
    const char *p = c->p;
    if (p >= c->end || *p < '0' || *p > '9') {
        return 0;
    }
    if (*p == '0' && p + 1 < c->end && p[1] >= '0' && p[1] <= '9') {
        return 0;
    }
    unsigned long long v = 0;
    int n = 0;
    while (p < c->end && *p >= '0' && *p <= '9') {
        if (++n > 19) {
            return 0;
        }
        v = v * 10 + (unsigned long long)(*p - '0');
        p++;
    }
    if (p < c->end && (*p == '.' || *p == 'e' || *p == 'E')) {
        return 0;
    }
    if (v > (unsigned long long)INT64_MAX) {
        return 0;
    }
    c->p = p;
    *seq = (long long)v;
    return 1;
}

static PyObject *
encode(PyObject *self, PyObject *args)
{
    Py_buffer payload;
    const char *gateway;
    Py_ssize_t gateway_len;
    PyObject *prefixes;
    long long not_after_us, earliest_us;
    if (!PyArg_ParseTuple(args, "y*s#OLL", &payload, &gateway, &gateway_len, &prefixes, &not_after_us,
                          &earliest_us)) {
        return NULL;
    }
    if (name_count == 0 || good_quality < 0) {
        PyBuffer_Release(&payload);
        PyErr_SetString(PyExc_RuntimeError, "configure() the vocabularies first");
        return NULL;
    }
    PyObject *result = NULL;
    Reading *readings = NULL;
    Buffer scratch = {NULL, 0, 0}, out = {NULL, 0, 0};
    Py_ssize_t count = 0, allocated = 0;
    int64_t oldest = INT64_MAX, newest = INT64_MIN;
    long long seq = 0;
    Cursor c = {(const char *)payload.buf, (const char *)payload.buf + payload.len};
    int have_schema = 0, have_gateway = 0, have_seq = 0, have_sent = 0, have_readings = 0;
    int refused = 1;

    if (reserve(&scratch, payload.len + 64) < 0) {
        goto done;
    }
    if (!expect(&c, '{')) {
        goto done;
    }
    for (;;) {
        const char *key, *s;
        Py_ssize_t key_len, n;
        if (!read_key(&c, &key, &key_len)) {
            goto done;
        }
        if (key_len == 6 && memcmp(key, "schema", 6) == 0) {
            if (have_schema++ || !read_string(&c, &s, &n) || n != 21
                || memcmp(s, "greenwire.readings.v1", 21) != 0) {
                goto done;
            }
        }
        else if (key_len == 7 && memcmp(key, "gateway", 7) == 0) {
            if (have_gateway++ || !read_string(&c, &s, &n) || n != gateway_len || memcmp(s, gateway, n) != 0) {
                goto done;
            }
        }
        else if (key_len == 3 && memcmp(key, "seq", 3) == 0) {
            if (have_seq++ || !read_seq(&c, &seq)) {
                goto done;
            }
        }
        else if (key_len == 7 && memcmp(key, "sent_at", 7) == 0) {
            int64_t us;
            if (have_sent++ || !read_string(&c, &s, &n) || !read_timestamp(s, n, &us)) {
                goto done;
            }
        }
        else if (key_len == 8 && memcmp(key, "readings", 8) == 0) {
            if (have_readings++ || !expect(&c, '[')) {
                goto done;
            }
            for (;;) {
                if (count == max_readings) {
                    goto done;
                }
                if (count == allocated) {
                    allocated = allocated ? allocated * 2 : 128;
                    Reading *grown = PyMem_Realloc(readings, allocated * sizeof(Reading));
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        refused = 0;
                        goto done;
                    }
                    readings = grown;
                }
                int got = read_reading(&c, &readings[count], &scratch);
                if (got < 0) {
                    refused = 0;
                    goto done;
                }
                if (got == 0) {
                    goto done;
                }
                count++;
                int more = next_member(&c, ']');
                if (more == 0) {
                    goto done;
                }
                if (more == 2) {
                    break;
                }
            }
        }
        else {
            goto done;
        }
        int more = next_member(&c, '}');
        if (more == 0) {
            goto done;
        }
        if (more == 2) {
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end || !(have_schema && have_gateway && have_seq && have_sent && have_readings)) {
        goto done;
    }
    /* The timestamps, within the limits, before any line is written. */
    int64_t *stamps = PyMem_Malloc(count * sizeof(int64_t));
    if (stamps == NULL) {
        PyErr_NoMemory();
        refused = 0;
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t us;
        if (!read_timestamp(readings[i].ts, readings[i].ts_len, &us) || us > not_after_us || us < earliest_us) {
            PyMem_Free(stamps);
            goto done;
        }
        stamps[i] = us * 1000;
        if (stamps[i] < oldest) {
            oldest = stamps[i];
        }
        if (stamps[i] > newest) {
            newest = stamps[i];
        }
    }
    if (reserve(&out, scratch.len + count * 96) < 0) {
        PyMem_Free(stamps);
        refused = 0;
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Reading *r = &readings[i];
        PyObject *device = PyUnicode_DecodeASCII(r->device, r->device_len, NULL);
        if (device == NULL) {
            PyMem_Free(stamps);
            refused = 0;
            goto done;
        }
        PyObject *prefix = PyObject_GetItem(prefixes, device);
        Py_DECREF(device);
        if (prefix == NULL) {
            PyMem_Free(stamps);
            if (PyErr_ExceptionMatches(PyExc_KeyError)) {
                PyErr_Clear(); /* an id the contract does not allow: the reference says why */
            }
            else {
                refused = 0;
            }
            goto done;
        }
        if (!PyBytes_Check(prefix)) {
            Py_DECREF(prefix);
            PyMem_Free(stamps);
            PyErr_SetString(PyExc_TypeError, "a series prefix must be bytes");
            refused = 0;
            goto done;
        }
        Py_ssize_t prefix_len = PyBytes_GET_SIZE(prefix);
        if (reserve(&out, prefix_len + r->fields_len + quality_len[r->quality] + 24) < 0) {
            Py_DECREF(prefix);
            PyMem_Free(stamps);
            refused = 0;
            goto done;
        }
        if (i) {
            put(&out, "\n", 1);
        }
        put(&out, PyBytes_AS_STRING(prefix), prefix_len);
        Py_DECREF(prefix);
        put(&out, scratch.data + r->fields_at, r->fields_len);
        put(&out, qualities[r->quality], quality_len[r->quality]);
        put_int(&out, stamps[i]);
    }
    PyMem_Free(stamps);
    PyObject *data = PyBytes_FromStringAndSize(out.data, out.len);
    if (data == NULL) {
        refused = 0;
        goto done;
    }
    result = Py_BuildValue("(NnLLL)", data, count, (long long)oldest, (long long)newest, seq);
    refused = 0;

done:
    PyMem_Free(readings);
    PyMem_Free(scratch.data);
    PyMem_Free(out.data);
    PyBuffer_Release(&payload);
    if (refused) {
        Py_RETURN_NONE;
    }
    return result;
}

static char *
copy_text(PyObject *item, Py_ssize_t *n)
{
    const char *s = PyUnicode_AsUTF8AndSize(item, n);
    if (s == NULL) {
        return NULL;
    }
    char *copy = PyMem_Malloc(*n + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, s, *n + 1);
    return copy;
}

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *name_list, *quality_list;
    Py_ssize_t readings_limit;
    if (!PyArg_ParseTuple(args, "O!O!n", &PyTuple_Type, &name_list, &PyTuple_Type, &quality_list,
                          &readings_limit)) {
        return NULL;
    }
    if (readings_limit < 1) {
        PyErr_SetString(PyExc_ValueError, "the readings limit must be at least 1");
        return NULL;
    }
    Py_ssize_t nn = PyTuple_GET_SIZE(name_list), nq = PyTuple_GET_SIZE(quality_list);
    if (nn < 1 || nn > MAX_NAMES || nq < 1 || nq > 16) {
        PyErr_SetString(PyExc_ValueError, "1-64 quantity names and 1-16 qualities");
        return NULL;
    }
    if (name_count) {
        Py_RETURN_NONE; /* once per process: the vocabularies do not change */
    }
    memset(slots, -1, sizeof slots);
    for (int ch = 0x20; ch <= 0x7e; ch++) {
        plain_char[ch] = ch != '"' && ch != '\\';
    }
    for (Py_ssize_t i = 0; i < nn; i++) {
        names[i] = copy_text(PyTuple_GET_ITEM(name_list, i), &name_len[i]);
        if (names[i] == NULL) {
            return NULL;
        }
        unsigned h = hash_name(names[i], name_len[i]);
        int probe = 0;
        while (slots[(h + probe) % NAME_SLOTS] >= 0) {
            probe++;
        }
        slots[(h + probe) % NAME_SLOTS] = (signed char)i;
    }
    for (Py_ssize_t i = 0; i < nq; i++) {
        Py_ssize_t n;
        char *q = copy_text(PyTuple_GET_ITEM(quality_list, i), &n);
        if (q == NULL) {
            return NULL;
        }
        /* stored as the line's suffix: ,quality="..." and a space */
        qualities[i] = PyMem_Malloc(n + 13);
        if (qualities[i] == NULL) {
            PyMem_Free(q);
            return PyErr_NoMemory();
        }
        quality_len[i] = snprintf(qualities[i], n + 13, ",quality=\"%s\" ", q);
        if (n == 4 && memcmp(q, "good", 4) == 0) {
            good_quality = (int)i;
        }
        quality_values[i] = q;
        quality_value_len[i] = n;
    }
    quality_count = (int)nq;
    max_readings = readings_limit;
    name_count = (int)nn;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"encode", encode, METH_VARARGS,
     "encode(payload, gateway, prefixes, not_after_us, earliest_us) -> (data, count, oldest_ns, "
     "newest_ns, seq) or None"},
    {"configure", configure, METH_VARARGS, "configure(quantity_names, quality_values, max_readings)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lines", "A greenwire.readings.v1 payload to line protocol in one pass.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__lines(void)
{
    return PyModule_Create(&module);
}
