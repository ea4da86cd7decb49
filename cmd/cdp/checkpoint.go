package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// checkpoint is how far a run got: every line of Inputs[0:File], and the
// lines 1 to Line of Inputs[File], has a final outcome (delivered, refused
// by the API for good, or invalid and written to the bad file). A re-run
// with the same checkpoint starts after that point.
//
// The position only ever advances over a contiguous prefix of lines whose
// outcomes are all final: the committer moves it as outcomes come (see
// committer), and the reader reads no more than the tracker's window past
// it. So after a kill a re-run sends again, with the same messageIds, the
// lines past it that had been sent: the batches in flight, those answered
// while the last save was being written, and (with several workers or
// decoders, which interleave lines across batches) those answered after
// the first line that had no answer.
type checkpoint struct {
	Version int      `json:"version"`
	Command string   `json:"command"`
	Inputs  []string `json:"inputs"`
	// Run is a random id chosen when the checkpoint is created; messageIds
	// are derived from it (see idMaker.positional).
	Run  string `json:"run"`
	File int    `json:"file"`
	Line int64  `json:"line"`
	// BadBytes is the size of the bad file when the checkpoint was written:
	// a re-run cuts it back to that size, so that a line reported after
	// the checkpoint is not reported twice.
	BadBytes int64 `json:"badBytes"`
	// Done is set when every line of every input has a final outcome.
	Done bool `json:"done"`
}

const checkpointVersion = 1

// loadCheckpoint reads the checkpoint at path for a run of command over
// inputs. A missing file is a new checkpoint. A checkpoint of another
// command or other inputs is an error: resuming it would skip the wrong
// lines.
func loadCheckpoint(path, command string, inputs []string) (*checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &checkpoint{Version: checkpointVersion, Command: command, Inputs: inputs, Run: newRunID()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: not a checkpoint of cdp: %v", path, err)
	}
	switch {
	case c.Version != checkpointVersion:
		return nil, fmt.Errorf("checkpoint %s: version %d, want %d", path, c.Version, checkpointVersion)
	case c.Command != command || !slices.Equal(c.Inputs, inputs):
		return nil, fmt.Errorf("checkpoint %s belongs to `cdp %s %v`, not `cdp %s %v`; remove it to start over", path, c.Command, c.Inputs, command, inputs)
	case c.File < 0 || c.File > len(inputs) || c.Line < 0 || c.BadBytes < 0 || c.Run == "":
		return nil, fmt.Errorf("checkpoint %s: damaged (position %d:%d)", path, c.File, c.Line)
	}
	return &c, nil
}

// save writes c to path atomically: to a temporary file in the same
// directory, synced to disk, then renamed over path. A kill at any moment
// leaves either the old checkpoint or the new one.
func (c *checkpoint) save(path string) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("checkpoint: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable; not every system can
		_ = d.Close()
	}
	return nil
}

// position says where a run with this checkpoint resumes, for people:
// "after line 120 of events.ndjson", or "from the start of b.ndjson".
func (c *checkpoint) position(names []string) string {
	if c.File >= len(names) {
		return "after the last line"
	}
	if c.Line == 0 {
		return "from the start of " + names[c.File]
	}
	return fmt.Sprintf("after line %d of %s", c.Line, names[c.File])
}
