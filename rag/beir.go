package rag

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// beirDoc is a line of a BEIR corpus.jsonl or queries.jsonl.
type beirDoc struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// beirSet is a BEIR data set: its corpus, its queries and the judgements of one split.
type beirSet struct {
	corpus  []beirDoc
	queries []beirDoc // only the judged queries of the split, in file order
	qrels   Qrels
}

// loadBEIR reads dir's corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv.
func loadBEIR(dir, split string) (*beirSet, error) {
	qrelsPath := filepath.Join(dir, "qrels", split+".tsv")
	qrels, err := readQrels(qrelsPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("eval: split %q: no judgements file %s", split, qrelsPath)
		}
		return nil, fmt.Errorf("eval: %w", err)
	}
	corpus, err := readJSONL(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	all, err := readJSONL(filepath.Join(dir, "queries.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	set := &beirSet{corpus: corpus, qrels: qrels}
	for _, q := range all {
		if len(qrels[q.ID]) > 0 {
			set.queries = append(set.queries, q)
		}
	}
	if len(set.queries) == 0 {
		return nil, fmt.Errorf("eval: split %q: no query of queries.jsonl has a relevant document in %s", split, qrelsPath)
	}
	return set, nil
}

func readJSONL(path string) ([]beirDoc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var docs []beirDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var d beirDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if d.ID == "" {
			return nil, fmt.Errorf("%s:%d: no _id", path, line)
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return docs, nil
}

// readQrels reads a BEIR qrels file: a header line, then "query-id corpus-id score"
// separated by tabs. Only positive grades are kept.
func readQrels(path string) (Qrels, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	qrels := Qrels{}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (i == 0 && f[0] == "query-id") {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want query-id, corpus-id and score, got %q", path, i+1, line)
		}
		grade, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: score %q: %w", path, i+1, f[2], err)
		}
		if grade <= 0 {
			continue
		}
		if qrels[f[0]] == nil {
			qrels[f[0]] = map[string]int{}
		}
		qrels[f[0]][f[1]] = grade
	}
	return qrels, nil
}
