package docker

import (
	"errors"
	"time"
)

// ErrBadTimestamp is a log entry whose timestamp prefix cannot be parsed.
var ErrBadTimestamp = errors.New("docker: bad log timestamp")

// ParseTimestamp parses a log entry's timestamp into unix nanoseconds.
// Docker always sends "2006-01-02T15:04:05.000000000Z" (9 digits, UTC); that
// form is parsed by hand because it runs once per line. Anything else an
// API-compatible daemon sends (Podman's whole seconds, an offset) goes
// through time.Parse.
func ParseTimestamp(b []byte) (int64, error) {
	if ns, ok := parseDockerTimestamp(b); ok {
		return ns, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, ErrBadTimestamp
	}
	if y := t.Year(); y < 1970 || y > 2261 { // outside int64 nanoseconds
		return 0, ErrBadTimestamp
	}
	return t.UnixNano(), nil
}

// parseDockerTimestamp parses Docker's form, and Podman's whole seconds
// before 5.8 ("2006-01-02T15:04:05Z"), by hand.
func parseDockerTimestamp(b []byte) (int64, bool) {
	if len(b) == 20 && b[19] == 'Z' { // Podman: no fraction
		var full [30]byte
		copy(full[copy(full[:], b[:19]):], ".000000000Z")
		b = full[:]
	}
	if len(b) != 30 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' ||
		b[16] != ':' || b[19] != '.' || b[29] != 'Z' {
		return 0, false
	}
	num := func(s []byte) (int64, bool) {
		var n int64
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	nanos, ok7 := num(b[20:29])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) ||
		year < 1970 || year > 2261 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	days := daysFromCivil(year, month, day)
	return ((days*24+hour)*60+minute)*60*1e9 + sec*1e9 + nanos, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
