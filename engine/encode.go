package engine

import (
	"encoding/binary"
	"slices"

	"github.com/docker-logs/docker_logs/conf"
	"github.com/docker-logs/docker_logs/docker"
)

// Records are encoded by hand into msgpack rather than through
// github.com/ugorji/go/codec: this runs once per log line, and the
// reflective encoder of a map costs many times more (BenchmarkEncode*).
// Tests decode every shape with ugorji's codec to prove the bytes right.

// The Compose labels whose values records carry as compose_project and
// compose_service.
const (
	composeProjectLabel = "com.docker.compose.project"
	composeServiceLabel = "com.docker.compose.service"
)

// containerMeta is the part of a record that is the same for every line
// of a container, encoded once as msgpack key/value pairs.
type containerMeta struct {
	pairs []byte
	count int    // number of key/value pairs in pairs
	tag   string // the records' own tag (tag_template); "": the instance's
}

// newContainerMeta encodes a container's fields: its ID, name and image,
// image_id, the host name, Compose project and service when it has their
// labels, and under labels those of its labels attach selects (sorted);
// those in omit are left out.
func newContainerMeta(c docker.Container, hostname string, attach func(key string) bool, omit conf.Fields) containerMeta {
	var m containerMeta
	m.addUnless(omit, conf.FieldContainerID, "container_id", c.ID)
	m.addUnless(omit, conf.FieldContainerName, "container_name", c.Name)
	m.addUnless(omit, conf.FieldImage, "image", c.Image)
	if c.ImageID != "" {
		m.addUnless(omit, conf.FieldImageID, "image_id", c.ImageID)
	}
	if hostname != "" {
		m.addUnless(omit, conf.FieldHostname, "hostname", hostname)
	}
	if v, ok := c.Labels[composeProjectLabel]; ok {
		m.addUnless(omit, conf.FieldComposeProject, "compose_project", v)
	}
	if v, ok := c.Labels[composeServiceLabel]; ok {
		m.addUnless(omit, conf.FieldComposeService, "compose_service", v)
	}
	if omit.Has(conf.FieldLabels) {
		return m
	}
	var keys []string
	for k := range c.Labels {
		if attach != nil && attach(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		m.pairs = appendStr(m.pairs, "labels")
		m.pairs = appendMapHeader(m.pairs, len(keys))
		for _, k := range keys {
			m.pairs = appendStr(appendStr(m.pairs, k), c.Labels[k])
		}
		m.count++
	}
	return m
}

func (m *containerMeta) addUnless(omit, f conf.Fields, key, value string) {
	if !omit.Has(f) {
		m.add(key, value)
	}
}

func (m *containerMeta) add(key, value string) {
	m.pairs = appendStr(appendStr(m.pairs, key), value)
	m.count++
}

// appendRecord appends one Fluent Bit record, [EventTime, map], to dst.
// The map holds log, stream, the container's fields, and truncated when the
// line was cut at max_line_size.
func appendRecord(dst []byte, e docker.Entry, meta *containerMeta) []byte {
	n := 2 + meta.count
	if e.Truncated {
		n++
	}
	dst = append(dst, 0x92) // fixarray of 2
	dst = appendEventTime(dst, e.Time)
	dst = appendMapHeader(dst, n)
	dst = appendStr(dst, "log")
	dst = appendStrBytes(dst, e.Line)
	dst = appendStr(dst, "stream")
	dst = appendStr(dst, e.Stream.String())
	dst = append(dst, meta.pairs...)
	if e.Truncated {
		dst = appendStr(dst, "truncated")
		dst = append(dst, 0xc3) // true
	}
	return dst
}

// appendEventTime appends Fluent Bit's EventTime: ext type 0 of 8 bytes,
// big-endian uint32 seconds then uint32 nanoseconds.
func appendEventTime(dst []byte, ns int64) []byte {
	dst = append(dst, 0xd7, 0x00)
	dst = binary.BigEndian.AppendUint32(dst, uint32(ns/1e9))
	return binary.BigEndian.AppendUint32(dst, uint32(ns%1e9))
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, 0xa0|byte(n))
	case n < 1<<8:
		return append(dst, 0xd9, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
}

func appendStr(dst []byte, s string) []byte {
	return append(appendStrHeader(dst, len(s)), s...)
}

func appendStrBytes(dst []byte, b []byte) []byte {
	return append(appendStrHeader(dst, len(b)), b...)
}
