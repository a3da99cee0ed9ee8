package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/docker-logs/docker_logs/docker"
)

// With tag_template, every piece carries one tag, the records of the
// container that tag names, and every line arrives once, in order.
func TestEngineDeliverGroupsByTag(t *testing.T) {
	api := newFakeAPI()
	e, _ := startEngineLog(t, api, "chunk_max_size", "4K", "tag_template", "docker.{container_name}.{short_id}")
	e.UseAppend(true)
	ids := []string{"aaaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbbb2"}
	for i, id := range ids {
		api.run(id, fmt.Sprintf("web%d", i))
	}
	for n := 1; n <= 60; n++ { // interleaved in the buffer
		for _, id := range ids {
			api.write(id, docker.Stdout, fmt.Sprintf("line %d", n))
		}
	}
	waitUntil(t, "the lines buffered", func() bool { return e.Stats().Records.Load() == 120 })
	var got []decodedRecord
	pieces := 0
	e.Deliver(func(tag string, p []byte, records int) bool {
		pieces++
		if len(p) > 4000 {
			t.Fatalf("a piece of %d bytes, over chunk_max_size", len(p))
		}
		recs := decodeRecords(t, p)
		if records != len(recs) {
			t.Fatalf("a piece of %d records counted as %d", len(recs), records)
		}
		for _, r := range recs {
			id := r.Fields["container_id"].(string)
			if want := fmt.Sprintf("docker.%s.%s", r.Fields["container_name"], id[:12]); tag != want {
				t.Fatalf("record of %s in a piece tagged %q, want %q", id, tag, want)
			}
			got = append(got, r)
		}
		return true
	})
	for i := range ids {
		assertLines(t, logs(got, fmt.Sprintf("web%d", i), "stdout"), seq("line", 1, 60))
	}
	// Interleaved records, two tags: grouped, not a piece per run of one tag.
	if want := 2 * (120*len(encodedLine(t, e)) + 3999) / 4000; pieces > want+2 {
		t.Fatalf("%d pieces for 120 interleaved records of two tags; grouped, about %d", pieces, want)
	}
}

// encodedLine is one record of the test's shape, for sizing.
func encodedLine(t *testing.T, e *Engine) []byte {
	meta := e.containerMeta(docker.Container{ID: "aaaaaaaaaaaaaaaa1", Name: "web0"})
	return appendRecord(nil, docker.Entry{Line: []byte("line 60"), Stream: docker.Stdout}, &meta)
}

// A renamed container whose tag changes and changes back keeps its order:
// the records after the change back go in a piece after the others.
func TestSplitByTagKeepsEachContainerInOrder(t *testing.T) {
	e, _ := startEngineLog(t, newFakeAPI(), "tag_template", "{container_name}")
	type rec struct{ id, tag, line string }
	in := []rec{{"A", "a", "A1"}, {"B", "b", "B1"}, {"A", "c", "A2"}, {"B", "b", "B2"}, {"A", "a", "A3"}, {"C", "a", "C1"}}
	e.out, e.inflight = e.out[:0], e.inflight[:0]
	for i, r := range in {
		meta := containerMeta{}
		meta.add("container_id", r.id)
		n := len(e.out)
		e.out = appendRecord(e.out, docker.Entry{Line: []byte(r.line), Time: int64(i)}, &meta)
		e.inflight = append(e.inflight, mark{id: r.id, tag: r.tag, size: int32(len(e.out) - n)})
	}
	e.splitByTag()
	var order []string
	start, startMark := 0, 0
	for _, p := range e.pieces {
		for i, r := range decodeRecords(t, e.out[start:p.end]) {
			order = append(order, p.tag+":"+r.Fields["log"].(string))
			if m := e.inflight[startMark+i]; m.id != r.Fields["container_id"] || m.tag != p.tag {
				t.Fatalf("record %s of piece %q has the mark of %s tagged %q", r.Fields["log"], p.tag, m.id, m.tag)
			}
		}
		start, startMark = p.end, p.marks
	}
	want := fmt.Sprint([]string{"a:A1", "b:B1", "b:B2", "c:A2", "a:A3", "a:C1"})
	if fmt.Sprint(order) != want {
		t.Fatalf("pieces %v, want %s", order, want)
	}
	if len(e.pieces) != 4 || e.pieces[3].marks != len(e.inflight) {
		t.Fatalf("pieces %+v", e.pieces)
	}
}

// At the default chunk_max_size, pieces are cut at appendPieceMax: Fluent
// Bit closes a chunk only after it passes 2,048,000 bytes, so a piece is
// what a chunk may overshoot by.
func TestEngineDeliverPiecesFitFluentBitChunks(t *testing.T) {
	api := newFakeAPI()
	e, _ := startEngineLog(t, api)
	e.UseAppend(true)
	api.run("c1", "c1")
	long := strings.Repeat("x", 300)
	for i := 1; i <= 3000; i++ {
		api.write("c1", docker.Stdout, fmt.Sprintf("line %d %s", i, long))
	}
	waitUntil(t, "the lines buffered", func() bool { return e.Stats().Records.Load() == 3000 })
	var sizes []int
	records := 0
	e.Deliver(func(_ string, p []byte, n int) bool {
		sizes = append(sizes, len(p))
		if got := len(decodeRecords(t, p)); got != n {
			t.Fatalf("a piece of %d records counted as %d", got, n)
		}
		records += n
		return true
	})
	if records != 3000 || len(sizes) < 4 {
		t.Fatalf("%d records in %d pieces %v", records, len(sizes), sizes)
	}
	for _, n := range sizes {
		if n > appendPieceMax {
			t.Fatalf("a piece of %d bytes, over %d: pieces %v", n, appendPieceMax, sizes)
		}
	}
}
