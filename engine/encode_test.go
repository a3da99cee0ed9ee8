package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ugorji/go/codec"

	"github.com/docker-logs/docker_logs/docker"
)

// decodedRecord is a record as Fluent Bit reads it back.
type decodedRecord struct {
	Time   int64 // unix nanoseconds from the EventTime
	Fields map[string]any
}

// decodeRecords decodes a collect buffer with ugorji's msgpack codec,
// checking every record is [EventTime, map] and nothing trails.
func decodeRecords(t testing.TB, buf []byte) []decodedRecord {
	t.Helper()
	var h codec.MsgpackHandle
	h.RawToString = true
	dec := codec.NewDecoderBytes(buf, &h)
	var out []decodedRecord
	for dec.NumBytesRead() < len(buf) {
		var rec []any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("decoding record %d: %v", len(out), err)
		}
		if len(rec) != 2 {
			t.Fatalf("record %d has %d elements", len(out), len(rec))
		}
		ext, ok := rec[0].(codec.RawExt)
		if !ok || ext.Tag != 0 || len(ext.Data) != 8 {
			t.Fatalf("record %d time is %#v, want EventTime", len(out), rec[0])
		}
		sec, nsec := binary.BigEndian.Uint32(ext.Data), binary.BigEndian.Uint32(ext.Data[4:])
		if nsec >= 1e9 {
			t.Fatalf("record %d: %d nanoseconds", len(out), nsec)
		}
		fields := map[string]any{}
		m, ok := rec[1].(map[any]any)
		if !ok {
			t.Fatalf("record %d body is %T", len(out), rec[1])
		}
		for k, v := range m {
			fields[fmt.Sprint(k)] = v
		}
		out = append(out, decodedRecord{Time: int64(sec)*1e9 + int64(nsec), Fields: fields})
	}
	return out
}

func TestAppendRecordDecodes(t *testing.T) {
	meta := newContainerMeta(strings.Repeat("ab", 32), "web-1", "loggen:test")
	lines := []docker.Entry{
		{Stream: docker.Stdout, Time: 1764338400123456789, Line: []byte("hello")},
		{Stream: docker.Stderr, Time: 1764338400000000001, Line: []byte("")},
		{Stream: docker.Stdout, Time: 1, Line: bytes.Repeat([]byte("x"), 31)},
		{Stream: docker.Stdout, Time: 2, Line: bytes.Repeat([]byte("y"), 200)},
		{Stream: docker.Stdout, Time: 3, Line: bytes.Repeat([]byte("z"), 70000), Truncated: true},
		{Stream: docker.Stdout, Time: 4, Line: []byte("caf\xc3\xa9 \xff raw bytes")},
	}
	var buf []byte
	for _, e := range lines {
		buf = appendRecord(buf, e, &meta)
	}
	got := decodeRecords(t, buf)
	if len(got) != len(lines) {
		t.Fatalf("decoded %d records, want %d", len(got), len(lines))
	}
	for i, e := range lines {
		r := got[i]
		want := map[string]any{
			"log": string(e.Line), "stream": e.Stream.String(),
			"container_id": strings.Repeat("ab", 32), "container_name": "web-1", "image": "loggen:test",
		}
		if e.Truncated {
			want["truncated"] = true
		}
		if r.Time != e.Time || fmt.Sprint(r.Fields) != fmt.Sprint(want) {
			t.Errorf("record %d = %d %v, want %d %v", i, r.Time, r.Fields, e.Time, want)
		}
	}
}

var benchEntry = docker.Entry{Stream: docker.Stdout, Time: 1764338400123456789,
	Line: []byte("2026-11-28 14:00:00 INFO request served path=/api/v1/items status=200 duration=1.2ms user=42 ok")}

func BenchmarkEncodeRecord(b *testing.B) {
	meta := newContainerMeta(strings.Repeat("ab", 32), "web-1", "loggen:test")
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRecord(buf[:0], benchEntry, &meta)
	}
	b.SetBytes(int64(len(buf)))
}

// The same record through ugorji's reflective encoder, the alternative the
// hand-written one is measured against.
func BenchmarkEncodeRecordUgorji(b *testing.B) {
	var h codec.MsgpackHandle
	h.WriteExt = true
	var buf []byte
	enc := codec.NewEncoderBytes(&buf, &h)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		enc.ResetBytes(&buf)
		ts := make([]byte, 8)
		binary.BigEndian.PutUint32(ts, uint32(benchEntry.Time/1e9))
		binary.BigEndian.PutUint32(ts[4:], uint32(benchEntry.Time%1e9))
		rec := []any{codec.RawExt{Tag: 0, Data: ts}, map[string]any{
			"log": benchEntry.Line, "stream": "stdout", "container_id": strings.Repeat("ab", 32),
			"container_name": "web-1", "image": "loggen:test",
		}}
		if err := enc.Encode(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
