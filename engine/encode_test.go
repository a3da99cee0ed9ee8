package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ugorji/go/codec"

	"github.com/docker-logs/docker_logs/conf"
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

// benchContainer is a container as most records describe it: no labels
// attached, an image ID and a host name.
var benchContainer = docker.Container{ID: strings.Repeat("ab", 32), Name: "web-1", Image: "loggen:test",
	ImageID: "sha256:" + strings.Repeat("cd", 32)}

func TestAppendRecordDecodes(t *testing.T) {
	meta := newContainerMeta(benchContainer, "docker-host-1", nil, 0)
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
			"image_id": "sha256:" + strings.Repeat("cd", 32), "hostname": "docker-host-1",
		}
		if e.Truncated {
			want["truncated"] = true
		}
		if r.Time != e.Time || fmt.Sprint(r.Fields) != fmt.Sprint(want) {
			t.Errorf("record %d = %d %v, want %d %v", i, r.Time, r.Fields, e.Time, want)
		}
	}
}

// TestContainerMetaFields: Compose labels become compose_project and
// compose_service; the labels the labels key selects form a map; a
// container without them gets neither.
func TestContainerMetaFields(t *testing.T) {
	c := benchContainer
	c.Labels = map[string]string{
		"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
		"com.example.team": "payments", "com.example.tier": "front", "other": "x",
	}
	attach := func(k string) bool { return strings.HasPrefix(k, "com.example.") }
	meta := newContainerMeta(c, "h1", attach, 0)
	got := decodeRecords(t, appendRecord(nil, benchEntry, &meta))[0].Fields
	want := map[string]any{
		"log": string(benchEntry.Line), "stream": "stdout", "container_id": c.ID, "container_name": "web-1",
		"image": "loggen:test", "image_id": c.ImageID, "hostname": "h1",
		"compose_project": "shop", "compose_service": "web",
		"labels": map[any]any{"com.example.team": "payments", "com.example.tier": "front"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("record fields\n got %v\nwant %v", got, want)
	}

	// record_fields container_name,compose_service: only those two, whose
	// map size is right (the decoder reads every pair).
	lean := newContainerMeta(c, "h1", attach, conf.AllFields&^(conf.FieldContainerName|conf.FieldComposeService))
	got = decodeRecords(t, appendRecord(nil, benchEntry, &lean))[0].Fields
	want = map[string]any{"log": string(benchEntry.Line), "stream": "stdout", "container_name": "web-1", "compose_service": "web"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lean record fields\n got %v\nwant %v", got, want)
	}

	bare := newContainerMeta(docker.Container{ID: "x", Name: "n", Image: "i", Labels: map[string]string{"a": "b"}}, "", attach, 0)
	got = decodeRecords(t, appendRecord(nil, benchEntry, &bare))[0].Fields
	for _, k := range []string{"image_id", "hostname", "compose_project", "compose_service", "labels"} {
		if _, ok := got[k]; ok {
			t.Errorf("field %s present on a container without it: %v", k, got)
		}
	}
}

var benchEntry = docker.Entry{Stream: docker.Stdout, Time: 1764338400123456789,
	Line: []byte("2026-11-28 14:00:00 INFO request served path=/api/v1/items status=200 duration=1.2ms user=42 ok")}

func BenchmarkEncodeRecord(b *testing.B) {
	meta := newContainerMeta(benchContainer, "docker-host-1", nil, 0)
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
			"container_name": "web-1", "image": "loggen:test", "image_id": benchContainer.ImageID,
			"hostname": "docker-host-1",
		}}
		if err := enc.Encode(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
