package docker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrBadJSONFileEntry is a json-file log line that is not an entry dockerd
// could have written: not JSON, or without a string "log", a "stream" of
// stdout or stderr, or an RFC 3339 "time".
var ErrBadJSONFileEntry = errors.New("docker: bad json-file entry")

// DecodeJSONFileLine decodes one json-file line (without its trailing '\n').
// The log's bytes (unescaped, with its trailing newline if it had one) are appended to dst,
// and returned as line (a sub-slice of the returned dst).
//
// The line is decoded as encoding/json would (an invalid UTF-8 byte or a
// lone surrogate gives U+FFFD). Lines in the shape dockerd writes are
// decoded by hand (BenchmarkDecodeJSONFileLine: faster than fastjson, the
// fastest library tried, and ten times encoding/json), without allocating
// when dst has room for len(raw)+8 more bytes, all of which it may scribble
// on; any other order, spacing or extra key goes through encoding/json. On
// error dst is returned with its length unchanged.
func DecodeJSONFileLine(dst, raw []byte) (s Stream, ts int64, line, newDst []byte, err error) {
	start := len(dst)
	out, s, ts, ok := decodeDockerd(dst, raw)
	if ok {
		return s, ts, out[start:], out, nil
	}
	return decodeJSONGeneral(out[:start], raw) // out: a buffer the fast path grew
}

// The keys as dockerd's MarshalJSONBuf writes them: log, stream, the
// optional attrs, time.
const (
	keyLog    = `{"log":"`
	keyStream = `,"stream":"std`
	keyAttrs  = `,"attrs":`
	keyTime   = `,"time":"`
)

// decodeDockerd decodes a line in exactly dockerd's shape; anything else,
// errors included, is left to decodeJSONGeneral (ok false).
func decodeDockerd(dst, raw []byte) (out []byte, s Stream, ts int64, ok bool) {
	if !bytes.HasPrefix(raw, []byte(keyLog)) {
		return dst, 0, 0, false
	}
	dst, i, ok := unquoteJSON(dst, raw, len(keyLog))
	if !ok {
		return dst, 0, 0, false
	}
	rest := raw[i:]
	if !bytes.HasPrefix(rest, []byte(keyStream)) || len(rest) < len(keyStream)+4 {
		return dst, 0, 0, false
	}
	switch string(rest[len(keyStream) : len(keyStream)+4]) {
	case `out"`:
		s = Stdout
	case `err"`:
		s = Stderr
	default:
		return dst, 0, 0, false
	}
	rest = rest[len(keyStream)+4:]
	if bytes.HasPrefix(rest, []byte(keyAttrs)) {
		n, ok := skipAttrs(dst, rest[len(keyAttrs):])
		if !ok {
			return dst, 0, 0, false
		}
		rest = rest[len(keyAttrs)+n:]
	}
	if !bytes.HasPrefix(rest, []byte(keyTime)) {
		return dst, 0, 0, false
	}
	rest = rest[len(keyTime):]
	q := len(rest) - 2
	if q < 0 || rest[q] != '"' || rest[q+1] != '}' {
		return dst, 0, 0, false
	}
	// A stamp that parses holds no quote, backslash or control byte.
	ts, err := jsonFileTime(rest[:q])
	return dst, s, ts, err == nil
}

// skipAttrs passes over attrs as dockerd writes them (json.Marshal of a
// map[string]string), checking its strings; it returns attrs' length.
// dst is scratch space only: its length is kept.
func skipAttrs(dst, b []byte) (int, bool) {
	if len(b) < 2 || b[0] != '{' {
		return 0, false
	}
	if b[1] == '}' {
		return 2, true
	}
	var ok bool
	for i, n := 1, len(dst); ; {
		for _, sep := range []byte{':', ','} { // key, then value
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			if _, i, ok = unquoteJSON(dst[:n], b, i+1); !ok || i >= len(b) {
				return 0, false
			}
			if b[i] == sep {
				i++
			} else if sep == ',' && b[i] == '}' {
				return i + 1, true
			} else {
				return 0, false
			}
		}
	}
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// special8 marks the high bit of each byte of w that needs a look on its
// own: a quote, a backslash, a control byte or part of a multi-byte rune.
// Only the lowest mark is sure (a borrow can mark bytes above it), and is
// all that is used.
func special8(w uint64) uint64 {
	return ((w - ones*0x20) | (w ^ ones*'"' - ones) | (w ^ ones*'\\' - ones) | w) & high
}

var unescapeByte = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unquoteJSON appends the JSON string starting at b[i] (after its opening
// quote) to dst, unescaped, and returns the index after its closing quote.
// It rejects what encoding/json rejects, and replaces what it replaces.
func unquoteJSON(dst, b []byte, i int) ([]byte, int, bool) {
	// Room for the rest of b and a word more: only an invalid UTF-8 byte
	// (1 byte in, 3 out) decodes to more than it takes, so plain bytes are
	// copied a word at a time, unchecked, and run over harmlessly.
	w := len(dst)
	buf := slices.Grow(dst, len(b)-i+8)
	buf = buf[:cap(buf)]
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			binary.LittleEndian.PutUint64(buf[w:], x)
			if m := special8(x); m != 0 {
				k := bits.TrailingZeros64(m) / 8
				i, w = i+k, w+k
				break
			}
			i, w = i+8, w+8
		}
		if i >= len(b) {
			return buf[:len(dst)], i, false
		}
		switch c := b[i]; {
		case c == '"':
			return buf[:w], i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return buf[:len(dst)], i, false
			}
			if e := unescapeByte[b[i+1]]; e != 0 {
				buf[w] = e
				i, w = i+2, w+1
				continue
			}
			r := hex4(b, i)
			if r < 0 {
				return buf[:len(dst)], i, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// Like encoding/json: a pair, else U+FFFD for the first.
				if d := utf16.DecodeRune(r, hex4(b, i)); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			w += utf8.EncodeRune(buf[w:], r)
		case c < 0x20:
			return buf[:len(dst)], i, false
		case c < utf8.RuneSelf:
			buf[w] = c
			i, w = i+1, w+1
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				buf = slices.Grow(buf[:w], len(b)-i+8+2)
				buf = buf[:cap(buf)]
				w += utf8.EncodeRune(buf[w:], r)
			} else {
				w += copy(buf[w:], b[i:i+n])
			}
			i += n
		}
	}
}

// hex4 is the rune of the \uXXXX escape at b[i], or -1.
func hex4(b []byte, i int) rune {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// jsonFileTime parses json-file's time. RFC3339Nano drops the fraction's
// trailing zeros (one stamp in ten has fewer than nine digits): those are
// padded back for parseDockerTimestamp, sparing time.Parse's allocation.
func jsonFileTime(b []byte) (int64, error) {
	if n := len(b); n > 21 && n < 30 && b[19] == '.' && b[n-1] == 'Z' {
		var full [30]byte
		copy(full[:], b[:n-1])
		copy(full[n-1:], "000000000Z"[n-21:])
		if ns, ok := parseDockerTimestamp(full[:]); ok {
			return ns, nil
		}
	}
	return ParseTimestamp(b)
}

// decodeJSONGeneral decodes any JSON object with the three keys. Keys are
// matched exactly (unlike encoding/json's struct fields), the last of a
// repeated key wins.
func decodeJSONGeneral(dst, raw []byte) (Stream, int64, []byte, []byte, error) {
	fail := func(format string, a ...any) (Stream, int64, []byte, []byte, error) {
		return 0, 0, nil, dst, fmt.Errorf("%w: "+format+" in %q", append([]any{ErrBadJSONFileEntry}, append(a, truncateForLog(raw))...)...)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fail("%v", err)
	}
	var log, stream, stamp string
	for _, f := range []struct {
		key string
		v   *string
	}{{"log", &log}, {"stream", &stream}, {"time", &stamp}} {
		v, found := obj[f.key]
		if !found && f.key == "log" {
			continue // dockerd leaves an empty log out, and reads it back as ""
		}
		if !found {
			return fail("no %q", f.key)
		}
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, f.v) != nil {
			return fail("%q is not a string", f.key)
		}
	}
	var s Stream
	switch stream {
	case "stdout":
		s = Stdout
	case "stderr":
		s = Stderr
	default:
		return fail("stream %q", truncateForLog([]byte(stream)))
	}
	ts, err := jsonFileTime([]byte(stamp))
	if err != nil {
		return fail("time %q", truncateForLog([]byte(stamp)))
	}
	start := len(dst)
	dst = append(dst, log...)
	return s, ts, dst[start:], dst, nil
}
