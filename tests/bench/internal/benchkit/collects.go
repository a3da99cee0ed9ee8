package benchkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Collects follows the file that the test host writes with --collects
// FILE: one line "<unix ms> <instance> <bytes> <records>" per non-empty
// collect, records counted as Fluent Bit does on append.
type Collects struct {
	Path string

	Records int   // records so far
	FirstMS int64 // when the first non-empty collect ended (unix ms)
	FirstN  int   // the records of that collect
	LastMS  int64 // when the last one ended

	off     int64
	partial []byte
}

// Poll reads what the host appended since the last call. The file may not
// exist yet.
func (c *Collects) Poll() error {
	data, err := readFrom(c.Path, &c.off)
	if err != nil {
		return err
	}
	data = append(c.partial, data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		f := strings.Fields(string(data[:i]))
		data = data[i+1:]
		if len(f) != 4 {
			return fmt.Errorf("%s: bad line %q", c.Path, f)
		}
		ms, err1 := strconv.ParseInt(f[0], 10, 64)
		n, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%s: bad line %q", c.Path, f)
		}
		if c.Records == 0 {
			c.FirstMS, c.FirstN = ms, n
		}
		c.Records += n
		c.LastMS = ms
	}
	c.partial = append(c.partial[:0], data...)
	return nil
}

// Rate is the records per second from the end of the first collect to the
// end of the last (the first collect's records excluded: their start is
// unknown); 0 before two collects.
func (c *Collects) Rate() float64 {
	if c.LastMS <= c.FirstMS {
		return 0
	}
	return float64(c.Records-c.FirstN) / (float64(c.LastMS-c.FirstMS) / 1000)
}

// readFrom returns what was appended to path since *off (nothing while
// path does not exist).
func readFrom(path string, off *int64) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(*off, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	*off += int64(len(data))
	return data, err
}
