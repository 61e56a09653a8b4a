package dedup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/assent-registry/assent/internal/hugepage"
)

// A gallery snapshot is a file from which a gallery is loaded without
// reading the store: per person and modality, ONE record holding what the
// gallery keeps of that person's templates in its in-memory form (the
// fingerprint packed cylinders and their MinHash buckets, the iris packed
// code and mask: fingerprint.Gallery.AppendForm, iris.Gallery.AppendForm),
// sealed under that person's own data key for the modality (the key the
// templates are sealed with in the store). Erasing the person, or the
// modality, shreds that key and makes the record unreadable wherever a
// copy of the file lives. In clear are only the person id (to find the
// key) and the modality; no name, no identity, no reference id.
//
// Layout:
//
//	"ASSENTGS" | format (1 byte, 1) | header length (uint32, big-endian) | header (JSON, SnapshotHeader)
//	records:   'R' | modality (1 fingerprint, 2 iris) | person id length (1 byte) | person id
//	           | sealed length (uvarint) | sealed record
//	end:       'E' | records (uint64, big-endian) | CRC-32C of every byte before the 'E' (uint32)
//
// A record is sealed with kind snapshotKind(header): the header's SHA-256
// is bound to every record, so a header altered (another shard, another
// change point, another version) makes every record fail to open
// (ErrTampered: the file is refused), and a record does not move from one
// snapshot to another. Its plaintext is, per reference of the person in
// that modality's gallery: reference id length (1 byte), reference id,
// form length (uvarint), form; a reference id that is a UUID in canonical
// form is written as a 0 length and its 16 bytes.

// SnapshotFormat is the file format this code writes and reads.
const SnapshotFormat = 1

const snapshotMagic = "ASSENTGS"

// ErrSnapshot is a snapshot that cannot be used: missing, truncated,
// corrupt, of another format or version, or not for this gallery. A
// caller loads from the store instead.
var ErrSnapshot = errors.New("dedup: gallery snapshot unusable")

// SnapshotHeader describes a snapshot: what made it, which gallery it is
// and the change point it is consistent with.
type SnapshotHeader struct {
	Format int `json:"format"`
	// The gallery forms' versions: a snapshot of other versions is not
	// used (the templates are loaded from the store).
	Fingerprint string `json:"fingerprint_form"`
	Iris        string `json:"iris_form"`
	// Shard Index of Of (0 of 1 for a whole gallery).
	Shard int `json:"shard"`
	Of    int `json:"of"`
	// Seq is the change point: the gallery held every change up to it
	// (the JetStream stream sequence a shard had applied when the write
	// began); changes after it are applied from the stream after a load.
	Seq     uint64    `json:"stream_seq"`
	Written time.Time `json:"written"`
	// Sizes when the write began (for sizing the load; not checked).
	Persons      int `json:"persons"`
	Fingerprints int `json:"fingerprints"`
	Irises       int `json:"irises"`
}

// SnapshotKeys seals and opens snapshot records under the persons' data
// keys (envelope.Keyring).
type SnapshotKeys interface {
	// SealExisting seals under keys that exist, never making one; nil
	// for a person without a key.
	SealExisting(ctx context.Context, cat, kind string, persons []string, plaintexts [][]byte) ([][]byte, error)
	// OpenAvailable opens what it can: nil for a value whose key is gone.
	OpenAvailable(ctx context.Context, cat, kind string, persons []string, values [][]byte) ([][]byte, error)
}

// snapshotBulkKeys is a SnapshotKeys that can read the keys of a whole
// load in one pass of its key store, when that pays
// (envelope.Keyring.ReadDataKeys): open is OpenAvailable served from the
// keys read (nil: no read was made), done drops them.
type snapshotBulkKeys interface {
	ReadDataKeys(ctx context.Context, cats []string, persons int) (open func(ctx context.Context, cat, kind string, persons []string, values [][]byte) ([][]byte, error), done func(), err error)
}

// SnapshotStats reports a snapshot write or load.
type SnapshotStats struct {
	Persons   int            `json:"persons"`
	Templates map[string]int `json:"templates"`
	// Records skipped: written, a person left out (no key: erased since
	// the gallery heard of it); loaded, records whose key is gone.
	Skipped  int           `json:"skipped"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"duration_ns"`
}

// NewSnapshotHeader is the header of a snapshot of this code's galleries
// for shard index of of, at change point seq.
func NewSnapshotHeader(index, of int, seq uint64) SnapshotHeader {
	return SnapshotHeader{Format: SnapshotFormat, Fingerprint: fingerprint.FormVersion,
		Iris: iris.NewGallery(iris.GalleryOptions{}).FormVersion(), Shard: index, Of: of, Seq: seq}
}

// snapshotKind is the sealing kind of a snapshot's records: bound to the
// header's bytes.
func snapshotKind(header []byte) string {
	h := sha256.Sum256(header)
	return "gallery-snapshot." + hex.EncodeToString(h[:16])
}

const (
	recFingerprint = 1
	recIris        = 2
	snapshotBatch  = 2048 // persons sealed or opened at a time
	openers        = 2    // batches opened at a time in a load
)

// WriteSnapshot writes the gallery's snapshot to path atomically (a
// temporary file in the same directory, synced, renamed over path, the
// directory synced): a crash at any point leaves the former file, or
// none, never a part of one; temporary files left by an earlier crash are
// removed. h gives the shard and the change point (h.Seq): the caller
// makes sure the gallery holds every change up to it when the write
// begins (changes applied while it writes are in it or not, person by
// person: a load applies every change after h.Seq again, which
// converges). Persons whose key no longer exists are left out.
func (l *Local) WriteSnapshot(ctx context.Context, path string, keys SnapshotKeys, h SnapshotHeader) (SnapshotStats, error) {
	start := time.Now()
	st := SnapshotStats{Templates: map[string]int{}}
	dir := filepath.Dir(path)
	removeTemps(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	l.mu.RLock()
	persons := make([]ident, 0, l.refs.len())
	for p := range l.refs.keys() {
		persons = append(persons, p)
	}
	l.mu.RUnlock()
	sizes := l.Sizes()
	h.Persons, h.Fingerprints, h.Irises = len(persons), sizes[Fingerprint], sizes[Iris]
	if h.Written.IsZero() {
		h.Written = time.Now().UTC()
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return st, err
	}
	kind := snapshotKind(hdr)
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	bw := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	head := append([]byte(snapshotMagic), SnapshotFormat)
	head = binary.BigEndian.AppendUint32(head, uint32(len(hdr)))
	if _, err := bw.Write(append(head, hdr...)); err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	var records uint64
	var rec []byte
	written := make(map[string]bool, len(persons))
	for lo := 0; lo < len(persons); lo += snapshotBatch {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		batch := persons[lo:min(len(persons), lo+snapshotBatch)]
		ids, plain, err := l.snapshotPlain(batch)
		if err != nil {
			return st, err
		}
		for m, mod := range []string{Fingerprint, Iris} {
			sealed, err := keys.SealExisting(ctx, mod, kind, ids, plain[m])
			if err != nil {
				return st, fmt.Errorf("dedup: snapshot: %w", err)
			}
			for i, s := range sealed {
				if plain[m][i] == nil {
					continue
				}
				if s == nil {
					st.Skipped++
					continue
				}
				rec = append(rec[:0], 'R', byte(m+1), byte(len(ids[i])))
				rec = append(rec, ids[i]...)
				rec = binary.AppendUvarint(rec, uint64(len(s)))
				if _, err := bw.Write(append(rec, s...)); err != nil {
					return st, fmt.Errorf("dedup: snapshot: %w", err)
				}
				records++
				written[ids[i]] = true
				st.Templates[mod] += countRefs(plain[m][i])
			}
		}
		if lo == 0 {
			failpoint.Hit(failpoint.SnapshotWriting)
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	end := append([]byte{'E'}, binary.BigEndian.AppendUint64(nil, records)...)
	end = binary.BigEndian.AppendUint32(end, crc.Sum32())
	if _, err := f.Write(end); err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return st, fmt.Errorf("dedup: snapshot: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	st.Persons, st.Bytes, st.Duration = len(written), fi.Size(), time.Since(start)
	return st, nil
}

// removeTemps removes the temporary files an interrupted write of path
// left.
func removeTemps(path string) {
	ms, _ := filepath.Glob(path + ".tmp-*")
	for _, m := range ms {
		os.Remove(m)
	}
}

// countRefs is the number of references in a record's plaintext.
func countRefs(p []byte) int {
	n := 0
	for len(p) > 0 {
		k := int(p[0])
		if k == 0 {
			k = 16
		}
		p = p[1+k:]
		l, m := binary.Uvarint(p)
		p = p[m+int(l):]
		n++
	}
	return n
}

// snapshotPlain makes the records' plaintexts of a batch of persons, per
// modality (nil where the person has no template of it), under the read
// lock; ids are the persons' texts. An id longer than 255 bytes (never a
// UUID) cannot be written: an error, and no snapshot.
func (l *Local) snapshotPlain(batch []ident) (ids []string, plain [2][][]byte, err error) {
	ids = make([]string, len(batch))
	plain[0], plain[1] = make([][]byte, len(batch)), make([][]byte, len(batch))
	l.mu.RLock()
	defer l.mu.RUnlock()
	var rbuf []ident
	for i, p := range batch {
		ids[i] = l.names.text(p)
		if len(ids[i]) > 255 {
			return nil, plain, fmt.Errorf("dedup: snapshot: a person id of %d bytes (at most 255)", len(ids[i]))
		}
		rbuf = l.refsOf(rbuf[:0], p)
		for _, r := range rbuf {
			o, ok := l.owner.get(r)
			if !ok {
				continue
			}
			m := int(o.modality) - 1
			b := plain[m][i]
			if r.named {
				rt := l.names.text(r)
				if len(rt) > 255 {
					return nil, plain, fmt.Errorf("dedup: snapshot: a reference id of %d bytes (at most 255)", len(rt))
				}
				b = append(b, byte(len(rt)))
				b = append(b, rt...)
			} else {
				b = append(b, 0)
				b = append(b, r.b[:]...)
			}
			at := len(b)
			b = append(b, make([]byte, binary.MaxVarintLen32)...) // room for the length
			var form []byte
			var found bool
			if o.modality == modFingerprint {
				form, found = l.fingers.AppendForm(b, r.key())
			} else {
				form, found = l.irises.AppendForm(b, r.key())
			}
			if !found {
				continue
			}
			n := len(form) - len(b)
			// Move the form right after its uvarint length.
			k := binary.PutUvarint(form[at:], uint64(n))
			copy(form[at+k:], form[at+binary.MaxVarintLen32:])
			plain[m][i] = form[:at+k+n]
		}
	}
	return ids, plain, nil
}

// snapshotReader reads a snapshot: the header through read, then the
// records in blocks (next), each read from the file straight into the
// buffer its batch keeps (no copy through a reader's buffer).
//
// A load reads the file past the page cache when the file system allows
// (O_DIRECT, direct): the blocks are read at aligned file offsets into
// aligned buffers, in aligned lengths (directAlign), so that a start
// neither fills the page cache with the whole file (a cold start) nor
// copies it out of it (a warm one). A read refused there (EINVAL) or
// short of an aligned length (the file's end) turns the direct reading
// off: the rest of the file is read through the page cache (readFile).
type snapshotReader struct {
	r io.Reader
	// f is the file r reads when it may be read direct (nil: never).
	f      *os.File
	direct bool // reads of f bypass the page cache (now)
	// chunked: the header was read from aligned chunks (head), the file
	// having been opened direct; what follows it is rest.
	chunked bool
	head    []byte
	free    chan snapBatch // batches done with: their buffers, for the next ones
	crc     hash.Hash32
	records uint64
	size    int64
	// the bytes read and not yet parsed (a record cut by a block's end,
	// or what followed the header in its chunk), moved to the next
	// block's start
	rest []byte
	eof  bool
	// the persons' ids of the block being read: their bytes, and where
	// each record's is (start and end, by modality), made one string at
	// the block's end
	idb  []byte
	idAt [2][]int32
}

// directAlign is the alignment of a direct read's buffer address, file
// offset and length (the file systems' logical block size is at most
// this; 512 on this project's machines).
const directAlign = 4096

// snapshotDirect: a load reads its snapshot past the page cache where
// the file system allows. A variable for the tests (false: through the
// page cache, as a file system refusing O_DIRECT).
var snapshotDirect = true

// openSnapshot opens the snapshot at path for a load: direct where the
// file system allows (direct true), else through the page cache.
func openSnapshot(path string) (f *os.File, direct bool, err error) {
	if snapshotDirect {
		if f, err := openDirect(path); err == nil {
			return f, true, nil
		}
	}
	f, err = os.Open(path)
	return f, false, err
}

// readFile reads into p from the file. Direct, p's address and length
// are aligned (the file offset is, every read before having been of an
// aligned length); a read refused (EINVAL) turns the direct reading off
// and is made again, and a read of an unaligned length (the file's end)
// turns it off for the next.
func (s *snapshotReader) readFile(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if s.direct && (errors.Is(err, syscall.EINVAL) || n%directAlign != 0) {
		s.direct = false
		if serr := stopDirect(s.f); serr != nil {
			return n, fmt.Errorf("O_DIRECT not cleared: %w", serr)
		}
		if n == 0 && err != nil {
			n, err = s.r.Read(p)
		}
	}
	return n, err
}

// alignedBytes is a slice of n bytes at an address aligned to
// directAlign (n a multiple of it: its end is aligned too).
func alignedBytes(n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (directAlign - 1))
	return b[off : off+n : off+n]
}

// alignUp is n rounded up to a multiple of directAlign.
func alignUp(n int) int { return (n + directAlign - 1) &^ (directAlign - 1) }

// headChunk is the bytes read at a time for the header (and after it)
// of a file opened direct.
const headChunk = 16 << 10

// read fills buf from the file (counted in the checksum); the header
// only. Of a file opened direct, the header is read in aligned chunks,
// and what follows it in the last is the first block's rest.
func (s *snapshotReader) read(buf []byte) error {
	if !s.chunked {
		if _, err := io.ReadFull(s.r, buf); err != nil {
			return truncated(err)
		}
	} else {
		for len(s.rest) < len(buf) && !s.eof {
			// s.rest is the end of s.head: read on after it (at an
			// aligned offset, unless the direct reading stopped).
			filled, at := len(s.head), len(s.head)-len(s.rest)
			if cap(s.head)-filled < headChunk {
				h := alignedBytes(alignUp(max(2*cap(s.head), filled+headChunk)))
				s.head = h[:copy(h, s.head)]
			}
			n, err := s.readFile(s.head[filled : filled+headChunk])
			s.head = s.head[:filled+n]
			s.rest = s.head[at:]
			if err == io.EOF {
				s.eof = true
			} else if err != nil {
				return truncated(err)
			}
		}
		if len(s.rest) < len(buf) {
			return truncated(io.ErrUnexpectedEOF)
		}
		s.rest = s.rest[copy(buf, s.rest):]
	}
	s.crc.Write(buf)
	s.size += int64(len(buf))
	return nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", ErrSnapshot)
	}
	return fmt.Errorf("%w: %w", ErrSnapshot, err)
}

// snapBatch is a batch of records read: per modality, the persons and the
// sealed records (slices of buf).
type snapBatch struct {
	ids    [2][]string
	sealed [2][][]byte
	buf    []byte // the block the records are in
	// mem is the batch's buffer, buf a part of it: aligned, the bytes
	// before room for a rest, then the bytes read.
	mem  []byte
	room int
	err  error
	end  bool
}

// recycle hands a batch's buffers back to the reader.
func (s *snapshotReader) recycle(b snapBatch) {
	if b.buf != nil {
		for m := range 2 {
			clear(b.ids[m]) // (the batch's id string, to the collector)
			b.ids[m], b.sealed[m] = b.ids[m][:0], b.sealed[m][:0]
		}
		b.buf, b.err, b.end = b.buf[:0], nil, false
		select {
		case s.free <- b:
		default:
		}
	}
}

// maxRecord bounds a sealed record (a person's templates of one
// modality).
const maxRecord = 1 << 20

// snapshotBlock is the bytes read at a time, into one batch's buffer (a
// batch is the whole records of a block: about 2,000 at 4 KB). A
// variable for the tests.
var snapshotBlock = 8 << 20

// next reads the next block and returns its whole records (a record cut
// by the block's end starts the next block); end is set when the end
// marker was read and checked.
func (s *snapshotReader) next() snapBatch {
	var b snapBatch
	select {
	case b = <-s.free:
	default:
	}
	s.idb = s.idb[:0]
	s.idAt[0], s.idAt[1] = s.idAt[0][:0], s.idAt[1][:0]
	b = s.readBlock(b)
	if b.err == nil {
		// The persons' ids: one string for the block, each id a part.
		ids := string(s.idb)
		for m := range 2 {
			at := s.idAt[m]
			for i := range b.ids[m] {
				b.ids[m][i] = ids[at[2*i]:at[2*i+1]]
			}
		}
	}
	return b
}

// blockRoom is the room before a block's bytes read for the rest of the
// block before it (a record cut by its end, or what followed the header):
// a larger rest takes a larger buffer.
const blockRoom = 64 << 10

// readBlock is next: it reads into b's buffer (if large enough) and
// appends to its slices, the persons' ids left to next. The block is
// the rest (put right before the bytes read) and then at least
// snapshotBlock bytes read (at least the rest's length: a record longer
// than a block is read in blocks of growing size), aligned if direct.
func (s *snapshotReader) readBlock(b snapBatch) snapBatch {
	n := max(snapshotBlock, len(s.rest))
	if s.direct {
		n = alignUp(n)
	}
	if b.mem == nil || b.room < len(s.rest) || len(b.mem)-b.room < n {
		room := max(blockRoom, alignUp(len(s.rest)))
		b.mem, b.room = alignedBytes(room+alignUp(n)), room
		hugepage.Advise(b.mem)
	}
	// (s.rest may be in b.mem, behind: copy moves it first.)
	lo := b.room - copy(b.mem[b.room-len(s.rest):b.room], s.rest)
	buf := b.mem[lo:b.room:min(len(b.mem), b.room+n)]
	for !s.eof && len(buf) < cap(buf) {
		n, err := s.readFile(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			b.err = truncated(err)
			return b
		}
	}
	b.buf = buf
	p := buf
	for len(p) > 0 {
		switch p[0] {
		case 'E':
			if len(p) < 13 {
				if !s.eof {
					s.cut(p, &b)
					return b
				}
				b.err = fmt.Errorf("%w: truncated", ErrSnapshot)
				return b
			}
			sum := s.crc.Sum32()
			if binary.BigEndian.Uint64(p[1:9]) != s.records || binary.BigEndian.Uint32(p[9:13]) != sum {
				b.err = fmt.Errorf("%w: %d records read, the end says %d; or the checksum differs", ErrSnapshot, s.records, binary.BigEndian.Uint64(p[1:9]))
				return b
			}
			more := len(p) > 13
			if !more && !s.eof {
				more = s.more()
			}
			if more {
				b.err = fmt.Errorf("%w: bytes after the end", ErrSnapshot)
				return b
			}
			b.end = true
			return b
		case 'R':
		default:
			b.err = fmt.Errorf("%w: record tag %#x", ErrSnapshot, p[0])
			return b
		}
		// 'R' | modality | id length | id | sealed length (uvarint) | sealed
		if len(p) < 3 || len(p) < 3+int(p[2]) {
			if s.cut(p, &b) {
				return b
			}
			continue
		}
		m, idn := int(p[1])-1, int(p[2])
		if m < 0 || m > 1 || idn == 0 {
			b.err = fmt.Errorf("%w: record header", ErrSnapshot)
			return b
		}
		ln, w := binary.Uvarint(p[3+idn:]) // w 0: cut by the block's end
		if w < 0 {
			b.err = fmt.Errorf("%w: bad length", ErrSnapshot)
			return b
		}
		if w > 0 && ln > maxRecord {
			b.err = fmt.Errorf("%w: a record of %d bytes", ErrSnapshot, ln)
			return b
		}
		if w == 0 || uint64(len(p)-3-idn-w) < ln {
			if s.cut(p, &b) {
				return b
			}
			continue
		}
		k := 3 + idn + w + int(ln)
		s.crc.Write(p[:k])
		s.size += int64(k)
		s.records++
		s.idAt[m] = append(s.idAt[m], int32(len(s.idb)), int32(len(s.idb)+idn))
		s.idb = append(s.idb, p[3:3+idn]...)
		b.ids[m] = append(b.ids[m], "") // (made at the block's end, by next)
		b.sealed[m] = append(b.sealed[m], p[3+idn+w:k:k])
		p = p[k:]
	}
	s.rest = nil
	if s.eof {
		b.err = fmt.Errorf("%w: truncated", ErrSnapshot)
	}
	return b
}

// more tells whether the file has bytes after those read.
func (s *snapshotReader) more() bool {
	var one [1]byte
	p := one[:]
	if s.direct {
		p = alignedBytes(directAlign)
	}
	for {
		n, err := s.readFile(p)
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// cut handles a record cut by the block's end, at p: it is moved to the
// next block (true: the batch ends here), or, at the file's end, the
// file is truncated (b.err set, true).
func (s *snapshotReader) cut(p []byte, b *snapBatch) bool {
	if s.eof {
		b.err = fmt.Errorf("%w: truncated", ErrSnapshot)
		return true
	}
	// (The batch's buffer is not written beyond its records before the
	// next block is read: the next call copies p first.)
	s.rest = p
	return true
}

// ReadSnapshotHeader reads the header of the snapshot at path.
func ReadSnapshotHeader(path string) (SnapshotHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return SnapshotHeader{}, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	defer f.Close()
	h, _, err := readHeader(&snapshotReader{r: f, crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))})
	return h, err
}

func readHeader(s *snapshotReader) (SnapshotHeader, []byte, error) {
	var h SnapshotHeader
	head := make([]byte, len(snapshotMagic)+5)
	if err := s.read(head); err != nil {
		return h, nil, err
	}
	if string(head[:len(snapshotMagic)]) != snapshotMagic {
		return h, nil, fmt.Errorf("%w: not a gallery snapshot", ErrSnapshot)
	}
	if head[len(snapshotMagic)] != SnapshotFormat {
		return h, nil, fmt.Errorf("%w: format %d, this code reads %d", ErrSnapshot, head[len(snapshotMagic)], SnapshotFormat)
	}
	n := binary.BigEndian.Uint32(head[len(snapshotMagic)+1:])
	if n > 1<<16 {
		return h, nil, fmt.Errorf("%w: a header of %d bytes", ErrSnapshot, n)
	}
	hdr := make([]byte, n)
	if err := s.read(hdr); err != nil {
		return h, nil, err
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return h, nil, fmt.Errorf("%w: header: %w", ErrSnapshot, err)
	}
	return h, hdr, nil
}

// CheckSnapshot tells whether a snapshot of header h can be loaded by
// this code as shard index of of: nil, or an error wrapping ErrSnapshot.
func CheckSnapshot(h SnapshotHeader, index, of int) error {
	want := NewSnapshotHeader(index, of, 0)
	switch {
	case h.Format != SnapshotFormat:
		return fmt.Errorf("%w: format %d", ErrSnapshot, h.Format)
	case h.Fingerprint != want.Fingerprint:
		return fmt.Errorf("%w: fingerprint form %q, this code's is %q", ErrSnapshot, h.Fingerprint, want.Fingerprint)
	case h.Iris != want.Iris:
		return fmt.Errorf("%w: iris form %q, this code's is %q", ErrSnapshot, h.Iris, want.Iris)
	case h.Shard != index || h.Of != of:
		return fmt.Errorf("%w: a snapshot of shard %d of %d, not %d of %d", ErrSnapshot, h.Shard, h.Of, index, of)
	}
	return nil
}

// LoadSnapshot makes a gallery from the snapshot at path, for shard index
// of of: the records are read in batches (one goroutine) while the
// batch before is opened (one key-store read per batch and modality,
// every core) and appended: fingerprint entries to a fingerprint.Builder
// (its index written in sealed segments directly), iris entries to the
// iris arrays, sized once. A record whose key is gone (the person or the
// modality erased since the write) is skipped and counted. Any other
// fault (a missing, truncated or altered file, another format, version
// or shard) is an error wrapping ErrSnapshot, and nothing is returned:
// load from the store then. The header says which change point the
// gallery holds: apply the changes after h.Seq before serving.
func LoadSnapshot(ctx context.Context, path string, keys SnapshotKeys, index, of int) (*Local, SnapshotHeader, SnapshotStats, error) {
	start := time.Now()
	st := SnapshotStats{Templates: map[string]int{}}
	f, direct, err := openSnapshot(path)
	if err != nil {
		return nil, SnapshotHeader{}, st, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	defer f.Close()
	sr := &snapshotReader{r: f, f: f, direct: direct, chunked: direct, crc: crc32.New(crc32.MakeTable(crc32.Castagnoli)), free: make(chan snapBatch, 16)}
	h, hdr, err := readHeader(sr)
	if err != nil {
		return nil, h, st, err
	}
	if err := CheckSnapshot(h, index, of); err != nil {
		return nil, h, st, err
	}
	kind := snapshotKind(hdr)
	// The load's arrays and objects take about the file's size and a
	// quarter at most (the gallery about its size, the batches in flight
	// and the garbage the load pacer allows the rest): that much address
	// space advised huge pages before the first batch, and made resident
	// while a core is idle until the load ends (docs/galleries.md,
	// "Seventeenth round").
	if fi, err := f.Stat(); err == nil {
		defer hugepage.Prepare(fi.Size() / 4 * 5)()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan snapBatch, 1)
	go func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("stage", "read")))
		defer trace.StartRegion(ctx, "read").End()
		defer close(batches)
		for {
			b := sr.next()
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil || b.end {
				return
			}
		}
	}()
	// The keys of the whole load, when the key store can read them in one
	// pass and that pays (a shard of one, most of the store's keys
	// wanted): read now, beside the reading of the first batches, and
	// used by the openers in place of a key-store read a batch.
	openAvailable := keys.OpenAvailable
	keysDone := func() {}
	if bk, ok := keys.(snapshotBulkKeys); ok && h.Persons > 0 {
		var open func(ctx context.Context, cat, kind string, persons []string, values [][]byte) ([][]byte, error)
		pprof.Do(ctx, pprof.Labels("stage", "open"), func(ctx context.Context) {
			defer trace.StartRegion(ctx, "open").End()
			open, keysDone, err = bk.ReadDataKeys(ctx, []string{Fingerprint, Iris}, h.Persons)
		})
		if err != nil {
			return nil, h, st, fmt.Errorf("%w: %w", ErrSnapshot, err)
		}
		if open != nil {
			openAvailable = open
		}
	}
	// Opening (every core, one key read per batch and modality) runs
	// beside the reading before it and the appending after it, in
	// openers goroutines taking the batches in turn: one batch's keys are
	// read from the key store (a serial query) while the batch before is
	// decrypted on every core. The opened batches are handed on in the
	// file's order (a future per batch, in order).
	type opened struct {
		b     snapBatch
		plain [2][][]byte
		err   error
	}
	type openJob struct {
		b   snapBatch
		out chan<- opened
	}
	openedc := make(chan chan opened, openers) // at most openers batches in flight
	jobs := make(chan openJob)
	go func() {
		defer close(openedc)
		defer close(jobs)
		for b := range batches {
			out := make(chan opened, 1)
			select {
			case openedc <- out:
			case <-ctx.Done():
				return
			}
			jobs <- openJob{b, out}
			if b.err != nil || b.end {
				return
			}
		}
	}()
	for range openers {
		go func() {
			pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("stage", "open")))
			defer trace.StartRegion(ctx, "open").End()
			for j := range jobs {
				o := opened{b: j.b, err: ctx.Err()}
				if j.b.err == nil && o.err == nil {
					for m, mod := range []string{Fingerprint, Iris} {
						if len(j.b.ids[m]) > 0 && o.err == nil {
							if o.plain[m], o.err = openAvailable(ctx, mod, kind, j.b.ids[m], j.b.sealed[m]); o.err != nil {
								o.err = fmt.Errorf("%w: %w", ErrSnapshot, o.err)
							}
						}
					}
				}
				j.out <- o
			}
		}()
	}
	l := NewLocal()
	fb := fingerprint.NewBuilder(h.Fingerprints)
	l.irises.Grow(h.Irises)
	l.owner = newIDTable[owned](h.Fingerprints + h.Irises)
	l.refs = newIDTable[refList](h.Persons)
	// Appending, in three goroutines so that no one of them is the load's
	// critical path: the bookkeeping (the persons' and references' ids and
	// tables) parses each batch and hands its keys and forms on to the
	// fingerprint builder and to the iris arrays, which work side by side;
	// the later of the two hands the batch's buffers back to the reader.
	fpc, irc := make(chan *parsedBatch, 1), make(chan *parsedBatch, 1)
	var (
		errMu    sync.Mutex
		loadErr  error
		appended sync.WaitGroup
	)
	fail := func(err error) {
		errMu.Lock()
		if loadErr == nil {
			loadErr = err
		}
		errMu.Unlock()
		cancel()
	}
	parsed := make(chan *parsedBatch, 8) // batches done with, for parseBatch
	done := func(pb *parsedBatch) {
		if pb.left.Add(-1) == 0 {
			sr.recycle(pb.b) // the batch's entries were copied into the galleries
			pb.b = snapBatch{}
			select {
			case parsed <- pb:
			default:
			}
		}
	}
	appended.Go(func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("stage", "fingerprint")))
		defer trace.StartRegion(ctx, "fingerprint").End()
		failed := false
		for pb := range fpc {
			if !failed {
				for i, key := range pb.keys[0] {
					if err := fb.Add(key, pb.forms[0][i]); err != nil {
						fail(fmt.Errorf("%w: %w", ErrSnapshot, err))
						failed = true
						break
					}
				}
			}
			done(pb)
		}
	})
	appended.Go(func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("stage", "iris")))
		defer trace.StartRegion(ctx, "iris").End()
		failed := false
		for pb := range irc {
			if !failed && len(pb.keys[1]) > 0 {
				if err := l.irises.AddForms(pb.keys[1], pb.forms[1]); err != nil {
					fail(fmt.Errorf("%w: %w", ErrSnapshot, err))
					failed = true
				}
			}
			done(pb)
		}
	})
	// (Each stage's goroutines carry a profiler label, stage: its
	// CPU is told apart in a profile with -tagfocus; and an execution
	// trace region of the same name, which the goroutines they start
	// inherit in an analysis of the trace.)
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("stage", "bookkeeping")))
	defer pprof.SetGoroutineLabels(ctx)
	bookkeeping := trace.StartRegion(ctx, "bookkeeping")
	pacer := newLoadPacer()
	defer pacer.done()
	ended, failed := false, false
	for oc := range openedc {
		pacer.pace()
		o := <-oc
		if failed {
			continue
		}
		err := o.b.err
		if err == nil {
			err = o.err
		}
		var pb *parsedBatch
		if err == nil {
			select {
			case pb = <-parsed:
			default:
			}
			pb, err = l.parseBatch(o.b, o.plain, &st, pb)
		}
		if err != nil {
			fail(err)
			failed = true
			continue
		}
		pb.left.Store(2)
		fpc <- pb
		irc <- pb
		ended = o.b.end
	}
	bookkeeping.End()
	keysDone() // every batch was opened
	close(fpc)
	close(irc)
	appended.Wait()
	if loadErr == nil && !ended {
		loadErr = ctx.Err()
		if loadErr == nil {
			loadErr = fmt.Errorf("%w: truncated", ErrSnapshot)
		}
	}
	if loadErr != nil {
		return nil, h, st, loadErr
	}
	g, err := fb.Gallery()
	if err != nil {
		return nil, h, st, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	l.fingers = g
	l.irises.Trim()
	st.Persons = l.refs.len()
	st.Bytes = sr.size
	st.Duration = time.Since(start)
	return l, h, st, nil
}

// parsedBatch is a batch of opened records parsed by parseBatch: per
// modality, the gallery keys of its entries and their forms (slices of
// the batch's buffers). A load hands each back when both appenders are
// done with it (see LoadSnapshot), and parseBatch parses the next batch
// into it: its slices are kept from batch to batch (a load makes no
// garbage a reference).
type parsedBatch struct {
	b     snapBatch
	keys  [2][]string
	forms [2][][]byte
	left  atomic.Int32 // appenders not done with it yet
	// scratch of parseBatch
	recs [2][]parsedRec
	all  []ident
	kbuf []byte
}

// parsedRec is a record's person and its references, all[lo:hi] of its
// parsedBatch.
type parsedRec struct {
	pid    ident
	lo, hi int
}

// parseBatch parses the entries of a batch's opened records (plain: per
// modality, nil where the record's key is gone) and records who owns
// them; the entries go to the galleries after (see LoadSnapshot). pb, if
// not nil, is a batch done with, whose slices are reused.
func (l *Local) parseBatch(b snapBatch, plains [2][][]byte, st *SnapshotStats, pb *parsedBatch) (*parsedBatch, error) {
	if pb == nil {
		pb = new(parsedBatch)
	}
	pb.b = b
	for m := range 2 {
		pb.keys[m], pb.forms[m], pb.recs[m] = pb.keys[m][:0], pb.forms[m][:0], pb.recs[m][:0]
	}
	// The records' references, all[lo:hi] a record's, added to their
	// persons at the end: a person's fingerprint and iris records of a
	// batch (in the same order of persons, as WriteSnapshot writes them)
	// with one read and one write of the person's entry.
	recs, all := &pb.recs, pb.all[:0]
	var ends [2]int // the end of a modality's references in all
	for m := range 2 {
		for i, p := range plains[m] {
			if p == nil {
				st.Skipped++
				continue
			}
			pid := l.names.ident(b.ids[m][i])
			lo := len(all)
			for len(p) > 0 {
				k := int(p[0])
				if k == 0 {
					k = 16 // a UUID's bytes
				}
				if len(p) < 1+k {
					return nil, fmt.Errorf("%w: a record's reference", ErrSnapshot)
				}
				var rid ident
				if p[0] == 0 {
					copy(rid.b[:], p[1:17])
				} else {
					rid = l.names.ident(string(p[1 : 1+k]))
				}
				p = p[1+k:]
				n, w := binary.Uvarint(p)
				if w <= 0 || n > uint64(len(p)-w) {
					return nil, fmt.Errorf("%w: a record's form", ErrSnapshot)
				}
				form := p[w : w+int(n)]
				p = p[w+int(n):]
				// One table operation: a reference twice is not added
				// again (and the load fails).
				if !l.owner.put(rid, owned{person: pid, modality: uint8(m + 1)}) {
					return nil, fmt.Errorf("%w: a reference twice", ErrSnapshot)
				}
				pb.forms[m] = append(pb.forms[m], form)
				all = append(all, rid)
			}
			recs[m] = append(recs[m], parsedRec{pid, lo, len(all)})
		}
		ends[m] = len(all)
	}
	pb.all = all
	st.Templates[Fingerprint] += ends[0]
	st.Templates[Iris] += ends[1] - ends[0]
	// The gallery keys (the references' bytes): one string for the
	// batch, each key a part of it (the galleries copy a key's bytes,
	// never keep the string).
	kb := pb.kbuf[:0]
	for _, r := range all {
		kb = append(kb, r.b[:]...)
		if r.named {
			kb = append(kb, 1)
		}
	}
	pb.kbuf = kb
	ks := string(kb)
	at := 0
	for i, r := range all {
		w := 16
		if r.named {
			w = 17 // (as ident.key)
		}
		m := 0
		if i >= ends[0] {
			m = 1
		}
		pb.keys[m] = append(pb.keys[m], ks[at:at+w])
		at += w
	}
	// A person's references in the order they came: its fingerprint
	// records' before its iris records' (a person whose iris record is
	// not next in order gets them apart, as they come).
	var both [2 * inlineRefs]ident
	j := 0
	for _, r := range recs[0] {
		if j < len(recs[1]) && recs[1][j].pid == r.pid {
			ir := recs[1][j]
			l.addRefs(r.pid, append(append(both[:0], all[r.lo:r.hi]...), all[ir.lo:ir.hi]...))
			j++
			continue
		}
		l.addRefs(r.pid, all[r.lo:r.hi])
	}
	for _, r := range recs[1][j:] {
		l.addRefs(r.pid, all[r.lo:r.hi])
	}
	return pb, nil
}

// SnapshotPath is the file of shard index of of's snapshot in dir.
func SnapshotPath(dir string, index, of int) string {
	return filepath.Join(dir, fmt.Sprintf("gallery-%d-of-%d.snapshot", index, of))
}
