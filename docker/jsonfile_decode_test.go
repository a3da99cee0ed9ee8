package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// mobyLine is a json-file line as dockerd writes it (moby's
// daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go, MarshalJSONBuf): empty
// fields are left out, attrs is written as given.
func mobyLine(log []byte, stream string, attrs []byte, t time.Time) []byte {
	var b []byte
	sep := "{"
	if len(log) > 0 {
		b = mobyString(append(b, `{"log":`...), log)
		sep = ","
	}
	if stream != "" {
		b = mobyString(append(append(b, sep...), `"stream":`...), []byte(stream))
		sep = ","
	}
	if len(attrs) > 0 {
		b = append(append(append(b, sep...), `"attrs":`...), attrs...)
		sep = ","
	}
	return append(append(b, sep+`"time":`...), t.Format(`"`+time.RFC3339Nano+`"}`)...)
}

// mobyString is moby's ffjsonWriteJSONBytesAsString: \" \\ \n \r, other
// control bytes and <, >, & as \u00XX, U+2028/U+2029 escaped, an invalid
// UTF-8 byte as \ufffd.
func mobyString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\' || c == '"':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xF])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

const (
	testStamp = "2026-12-02T16:36:15.431234567Z"
	testNs    = 1796229375431234567
	testTime  = `"time":"` + testStamp + `"}`
)

var partialChunk = strings.Repeat("a \"b\" <c>\t", chunkSize/10+1)[:chunkSize] // no newline

var decodeCases = []struct {
	name, raw string
	log       string // want
	stream    Stream
	ts        int64
	err       string // a part of the error, if one is wanted
	fast      bool   // decoded by decodeDockerd
}{
	{name: "dockerd", fast: true, raw: `{"log":"hello \"x\"\u0009world\n","stream":"stdout",` + testTime,
		log: "hello \"x\"\tworld\n", stream: Stdout, ts: testNs},
	{name: "every escape", fast: true, raw: `{"log":"\"\\\/\b\f\n\r\t\u0000\u001f\u003c\u003e\u0026\u2028\u2029\ufffd\u00e9\u00E9é\uD83D\uDE00\ud83d\ude00😀","stream":"stderr",` + testTime,
		log: "\"\\/\b\f\n\r\t\x00\x1f<>&\u2028\u2029\ufffdééé😀😀😀", stream: Stderr, ts: testNs},
	{name: "lone surrogates", fast: true, raw: `{"log":"\ud800x\udc00\ud800\ud800\u0041\ud83d","stream":"stdout",` + testTime,
		log: "\ufffdx\ufffd\ufffd\ufffdA\ufffd", stream: Stdout, ts: testNs},
	{name: "invalid UTF-8", fast: true, raw: "{\"log\":\"a\xffb\xe2\x82c\xed\xa0\x80\",\"stream\":\"stdout\"," + testTime,
		log: "a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffd", stream: Stdout, ts: testNs},
	{name: "invalid UTF-8 run", fast: true, raw: `{"log":"` + strings.Repeat("\xff", 100) + `","stream":"stdout",` + testTime,
		log: strings.Repeat("\ufffd", 100), stream: Stdout, ts: testNs},
	{name: "partial 16 KiB chunk", fast: true, raw: string(mobyLine([]byte(partialChunk), "stdout", nil, time.Unix(0, testNs))),
		log: partialChunk, stream: Stdout, ts: testNs},
	{name: "attrs", fast: true, raw: `{"log":"x\n","stream":"stderr","attrs":{"tag":"a\"b}","\u003c":""},` + testTime,
		log: "x\n", stream: Stderr, ts: testNs},
	{name: "empty attrs", fast: true, raw: `{"log":"x\n","stream":"stdout","attrs":{},` + testTime, log: "x\n", stream: Stdout, ts: testNs},
	{name: "attrs not strings", raw: `{"log":"x\n","stream":"stdout","attrs":{"n":[1,{"m":null}]},` + testTime,
		log: "x\n", stream: Stdout, ts: testNs},
	{name: "short fraction", fast: true, raw: `{"log":"x\n","stream":"stdout","time":"2026-12-02T16:36:15.4312Z"}`,
		log: "x\n", stream: Stdout, ts: 1796229375431200000},
	{name: "no fraction", fast: true, raw: `{"log":"x\n","stream":"stdout","time":"2026-12-02T16:36:15Z"}`,
		log: "x\n", stream: Stdout, ts: 1796229375000000000},
	{name: "offset", fast: true, raw: `{"log":"x\n","stream":"stdout","time":"2026-12-02T17:36:15.5+01:00"}`,
		log: "x\n", stream: Stdout, ts: 1796229375500000000},
	{name: "other order", raw: `{"time":"` + testStamp + `","stream":"stderr","log":"x\n"}`, log: "x\n", stream: Stderr, ts: testNs},
	{name: "whitespace", raw: "{ \"log\" : \"x\\n\" ,\n\t\"stream\":\"stdout\", " + testTime + " \r",
		log: "x\n", stream: Stdout, ts: testNs},
	{name: "extra key", raw: `{"log":"x\n","stream":"stdout",` + `"partial":true,` + testTime, log: "x\n", stream: Stdout, ts: testNs},
	{name: "repeated key", raw: `{"log":"x","stream":"stdout",` + `"time":"` + testStamp + `","log":"y"}`, log: "y", stream: Stdout, ts: testNs},
	{name: "escaped key and stream", raw: `{"l\u006fg":"x","stream":"std\u006fut",` + testTime, log: "x", stream: Stdout, ts: testNs},
	{name: "empty log", fast: true, raw: `{"log":"","stream":"stdout",` + testTime, log: "", stream: Stdout, ts: testNs},

	{name: "no log", raw: `{"stream":"stdout",` + testTime, log: "", stream: Stdout, ts: testNs}, // dockerd's empty log
	{name: "no stream", raw: `{"log":"x",` + testTime, err: `no "stream"`},
	{name: "no time", raw: `{"log":"x","stream":"stdout"}`, err: `no "time"`},
	{name: "key case", raw: `{"Log":"x","stream":"stdout",` + testTime, log: "", stream: Stdout, ts: testNs}, // "Log" is not "log"
	{name: "null log", raw: `{"log":null,"stream":"stdout",` + testTime, err: `"log" is not a string`},
	{name: "number stream", raw: `{"log":"x","stream":1,` + testTime, err: `"stream" is not a string`},
	{name: "bad stream", raw: `{"log":"x","stream":"stdin",` + testTime, err: `stream "stdin"`},
	{name: "empty stream", raw: `{"log":"x","stream":"",` + testTime, err: `stream ""`},
	{name: "bad time", raw: `{"log":"x","stream":"stdout","time":"yesterday"}`, err: `time "yesterday"`},
	{name: "bad month", raw: `{"log":"x","stream":"stdout","time":"2026-13-02T16:36:15.4312Z"}`, err: `time "2026-13-02`},
	{name: "empty fraction", raw: `{"log":"x","stream":"stdout","time":"2026-12-02T16:36:15.Z"}`, err: `time "2026-12-02`},
	{name: "truncated", raw: `{"log":"x","stream":"stdout","time":"` + testStamp, err: "unexpected end of JSON input"},
	{name: "truncated in log", raw: `{"log":"x\`, err: "in string escape code"},
	{name: "trailing bytes", raw: `{"log":"x","stream":"stdout",` + testTime + "}", err: "invalid character"},
	{name: "control byte", raw: "{\"log\":\"x\ty\",\"stream\":\"stdout\"," + testTime, err: "invalid character"},
	{name: "bad escape", raw: `{"log":"x\x","stream":"stdout",` + testTime, err: "invalid character"},
	{name: "bad \\u", raw: `{"log":"\ud800\u12g4","stream":"stdout",` + testTime, err: "invalid character"},
	{name: "bad attrs", raw: `{"log":"x","stream":"stdout","attrs":{"a":"b"` + testTime, err: "invalid character"},
	{name: "array", raw: `["log","x"]`, err: "cannot unmarshal array"},
	{name: "string", raw: `"log"`, err: "cannot unmarshal string"},
	{name: "null", raw: `null`, err: `no "stream"`},
	{name: "empty", raw: ``, err: "unexpected end of JSON input"},
}

func TestDecodeJSONFileLine(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			dst := append(make([]byte, 0, 8), "prefix"...) // appended to, and grown
			if _, _, _, fast := decodeDockerd(nil, []byte(c.raw)); fast != c.fast {
				t.Errorf("decoded by decodeDockerd: %v, want %v", fast, c.fast)
			}
			s, ts, line, out, err := DecodeJSONFileLine(dst, []byte(c.raw))
			if string(out[:6]) != "prefix" {
				t.Fatalf("dst's bytes lost: %q", out)
			}
			if c.err != "" {
				if !errors.Is(err, ErrBadJSONFileEntry) || !strings.Contains(err.Error(), c.err) || len(out) != 6 {
					t.Fatalf("got %v (dst %q), want ErrBadJSONFileEntry with %q", err, out, c.err)
				}
				if len(err.Error()) > 200 {
					t.Errorf("error too long: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(line) != c.log || s != c.stream || ts != c.ts {
				t.Fatalf("got %v %d %q, want %v %d %q", s, ts, line, c.stream, c.ts, c.log)
			}
			if len(out) != 6+len(line) || len(line) > 0 && &out[6] != &line[0] {
				t.Fatalf("line %q is not the end of dst %q", line, out)
			}
		})
	}
}

func TestDecodeJSONFileLineAllocs(t *testing.T) {
	for _, raw := range []string{
		`{"log":"hello \"x\"\u0009world \u003c\u2028 \ud83d\ude00 é\n","stream":"stdout",` + testTime,
		`{"log":"x\n","stream":"stderr","attrs":{"tag":"web"},"time":"2026-12-02T16:36:15.4312Z"}`,
	} {
		dst, line := make([]byte, 0, 1024), []byte(raw)
		if n := testing.AllocsPerRun(100, func() {
			if _, _, _, _, err := DecodeJSONFileLine(dst, line); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%d allocations decoding %s", int(n), raw)
		}
	}
}

// FuzzDecodeJSONFileLine decodes b itself, checked against encoding/json,
// and b as a log written by dockerd and by encoding/json.
func FuzzDecodeJSONFileLine(f *testing.F) {
	for _, c := range decodeCases {
		if len(c.raw) < 1024 { // a long seed slows the fuzzer down for little
			f.Add([]byte(c.raw), c.stream == Stderr, c.ts)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, stderr bool, ns int64) {
		checkAgainstJSON(t, b)

		const maxNs = 9214646400 * 1e9 // 2262-01-01
		ns = int64(uint64(ns) % maxNs)
		tm := time.Unix(0, ns).UTC()
		s, stream := Stdout, "stdout"
		if stderr {
			s, stream = Stderr, "stderr"
		}
		tags := map[string]string{"tag": string(b), "x": "1"}
		attrs, _ := json.Marshal(tags)
		type entry struct {
			Log    string    `json:"log"`
			Stream string    `json:"stream"`
			Time   time.Time `json:"time"`
		}
		type entryAttrs struct {
			Log    string            `json:"log"`
			Stream string            `json:"stream"`
			Attrs  map[string]string `json:"attrs"`
			Time   time.Time         `json:"time"`
		}
		type reversed struct {
			Time   time.Time `json:"time"`
			Stream string    `json:"stream"`
			Log    string    `json:"log"`
		}
		plain, _ := json.Marshal(entry{string(b), stream, tm})
		withAttrs, _ := json.Marshal(entryAttrs{string(b), stream, tags, tm})
		other, _ := json.Marshal(reversed{tm, stream, string(b)})
		for _, raw := range [][]byte{mobyLine(b, stream, nil, tm), mobyLine(b, stream, attrs, tm), plain, withAttrs, other} {
			gs, gts, line, _, err := DecodeJSONFileLine(nil, raw)
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			want := b
			if !utf8.Valid(b) {
				var v struct{ Log string }
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Fatal(err)
				}
				want = []byte(v.Log)
			}
			if !bytes.Equal(line, want) || gs != s || gts != ns {
				t.Fatalf("%s: got %v %d %q, want %v %d %q", raw, gs, gts, line, s, ns, want)
			}
		}
	})
}

// checkAgainstJSON decodes b, which must fail exactly when encoding/json
// finds no string log, stdout or stderr and RFC 3339 time in it, and
// otherwise give the same.
func checkAgainstJSON(t *testing.T, b []byte) {
	s, ts, line, _, err := DecodeJSONFileLine(nil, b)
	var m map[string]any
	jerr := json.Unmarshal(b, &m)
	log, ok1 := m["log"].(string)
	if _, found := m["log"]; !found {
		ok1 = true // dockerd leaves an empty log out
	}
	stream, ok2 := m["stream"].(string)
	stamp, ok3 := m["time"].(string)
	wantTs, terr := ParseTimestamp([]byte(stamp))
	valid := jerr == nil && ok1 && ok2 && ok3 && (stream == "stdout" || stream == "stderr") && terr == nil
	if err != nil {
		if valid || !errors.Is(err, ErrBadJSONFileEntry) {
			t.Fatalf("%q: got %v, encoding/json decodes %q %q %q", b, err, log, stream, stamp)
		}
		return
	}
	if !valid || string(line) != log || s.String() != stream || ts != wantTs {
		t.Fatalf("%q: got %v %d %q, encoding/json decodes %v %q %q %q %v", b, s, ts, line, jerr, log, stream, stamp, terr)
	}
}

// benchLines are a 100-byte line and a 16 KiB chunk of a longer one (an
// access log with quotes to escape), as dockerd writes them.
func benchLines() map[string][]byte {
	t := time.Unix(0, testNs).UTC()
	short := `2026-12-02 16:36:15 INFO request served method=GET path="/api/v1/items" status=200 user="alice" trace=4bf92f3577b34da6`
	short = short[:99] + "\n"
	long := strings.Repeat(`10.0.0.7 - - "GET /api/v1/items?id=42 HTTP/1.1" 200 1532 "-" "Mozilla/5.0 (X11; Linux x86_64)" `, chunkSize/64)
	return map[string][]byte{
		"100B":  mobyLine([]byte(short), "stdout", nil, t),
		"16KiB": mobyLine([]byte(long[:chunkSize]), "stdout", nil, t),
	}
}

func BenchmarkDecodeJSONFileLine(b *testing.B) {
	lines := benchLines()
	for _, size := range []string{"100B", "16KiB"} {
		raw := lines[size]
		var p fastjson.Parser
		decoders := []struct {
			name   string
			decode func(dst, raw []byte) (Stream, int64, []byte, []byte, error)
		}{
			{"hand-written", DecodeJSONFileLine},
			{"encoding-json", decodeWithEncodingJSON},
			{"fastjson", func(dst, raw []byte) (Stream, int64, []byte, []byte, error) { return decodeWithFastjson(&p, dst, raw) }},
		}
		for _, d := range decoders {
			b.Run(size+"/"+d.name, func(b *testing.B) {
				dst := make([]byte, 0, 32<<10)
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					if _, _, _, _, err := d.decode(dst, raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func decodeWithEncodingJSON(dst, raw []byte) (Stream, int64, []byte, []byte, error) {
	var v struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, 0, nil, dst, err
	}
	s := Stdout
	if v.Stream == "stderr" {
		s = Stderr
	}
	ts, err := jsonFileTime([]byte(v.Time))
	start := len(dst)
	dst = append(dst, v.Log...)
	return s, ts, dst[start:], dst, err
}

// decodeWithFastjson is the fastest library tried (goccy/go-json and
// json-iterator allocate and were slower); it checks less than
// DecodeJSONFileLine does (no UTF-8 replacement, no control bytes).
func decodeWithFastjson(p *fastjson.Parser, dst, raw []byte) (Stream, int64, []byte, []byte, error) {
	v, err := p.ParseBytes(raw)
	if err != nil {
		return 0, 0, nil, dst, err
	}
	s := Stdout
	if string(v.GetStringBytes("stream")) == "stderr" {
		s = Stderr
	}
	ts, err := jsonFileTime(v.GetStringBytes("time"))
	start := len(dst)
	dst = append(dst, v.GetStringBytes("log")...)
	return s, ts, dst[start:], dst, err
}
