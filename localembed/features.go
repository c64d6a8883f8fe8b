package localembed

import (
	"math"
	"slices"
)

// scheme says which features of a text make its vector and how they are weighted. Each
// feature is hashed to one of dims coordinates with a hash-derived sign (the "hashing
// trick" with signed hashing, so that collisions cancel on average instead of adding
// up), weighted by sublinear term frequency, 1 + ln(tf), times its kind's weight.
type scheme struct {
	name     string
	stem     bool    // Snowball-stem words; stop words are always dropped
	unigrams float64 // weight of a word
	bigrams  float64 // weight of two consecutive kept words, 0 for none
	charN    int     // length of the character n-grams of each word ("<word>"), 0 for none
	chars    float64 // total weight of one word's character n-grams, shared among them
	// rarity, when not zero, weights each word by ln(1 + rank/rarity), with rank its
	// stem's place in a general English frequency list (see weights.go): a stand-in
	// for inverse document frequency that needs no corpus.
	rarity float64
}

// Hash seeds, one per kind of feature, so that a word and a bigram never share a hash
// by construction.
const (
	seedUnigram uint64 = 0x9e3779b97f4a7c15
	seedBigram  uint64 = 0xc2b2ae3d27d4eb4f
	seedChars   uint64 = 0x165667b19e3779f9
)

// maxCachedWords bounds the per-goroutine cache of word analyses; past it the cache
// starts again empty. English text of any size uses far fewer distinct words.
const maxCachedWords = 1 << 16

// wordInfo is what a scheme makes of one surface word: stemming and hashing are most of
// the cost of embedding, and a text repeats its words.
type wordInfo struct {
	stop  bool
	hash  uint64
	idf   float64
	grams []uint64 // hashes of the character n-grams
}

// wordInfo analyses one lowercase word.
func (sc *scheme) wordInfo(w string) wordInfo {
	if isStopWord(w) {
		return wordInfo{stop: true}
	}
	if sc.stem {
		w = stem(w)
	}
	idf := 1.0
	if sc.rarity > 0 {
		idf = math.Log1p(float64(rankOf(w)) / sc.rarity)
	}
	return wordInfo{hash: hashString(seedUnigram, w), idf: idf, grams: sc.charNgrams(w)}
}

// feature is one hashed feature of a text and its weight.
type feature struct {
	hash   uint64
	weight float64
}

// state is the scratch space of one embedding, reused across texts by one goroutine.
type state struct {
	words    map[string]wordInfo // a cache of wordInfo, for this state's scheme only
	word     []byte
	feats    []feature
	prevHash uint64  // hash of the previous kept word, for bigrams; 0 at the start
	prevIDF  float64 // weight of the previous kept word
}

// embed appends the features of text to st.feats and writes the vector into v, which
// must be zeroed and of a power-of-two length. The vector is L2-normalised; a text with
// no features (empty, or stop words only) gets the zero vector's stand-in, e1, so that
// every vector has unit length.
func (sc *scheme) embed(text string, v []float32, st *state) {
	st.feats, st.prevHash = st.feats[:0], 0
	st.word = tokens(text, st.word, func(word []byte) {
		info, ok := st.words[string(word)] // no allocation for the lookup
		if !ok {
			info = sc.wordInfo(string(word))
			if len(st.words) >= maxCachedWords {
				clear(st.words)
			}
			if st.words == nil {
				st.words = make(map[string]wordInfo)
			}
			st.words[string(word)] = info
		}
		if info.stop {
			return
		}
		h, idf := info.hash, info.idf
		st.feats = append(st.feats, feature{h, sc.unigrams * idf})
		if sc.bigrams > 0 && st.prevHash != 0 {
			st.feats = append(st.feats, feature{mix(st.prevHash ^ mix(h+seedBigram)), sc.bigrams * (idf + st.prevIDF) / 2})
		}
		st.prevHash, st.prevIDF = h, idf
		if len(info.grams) > 0 {
			w := sc.chars * idf / float64(len(info.grams))
			for _, g := range info.grams {
				st.feats = append(st.feats, feature{g, w})
			}
		}
	})
	feats := st.feats
	slices.SortFunc(feats, func(a, b feature) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	mask := uint64(len(v) - 1)
	for i := 0; i < len(feats); {
		j, w := i+1, feats[i].weight
		for j < len(feats) && feats[j].hash == feats[i].hash {
			w += feats[j].weight
			j++
		}
		// Sublinear tf on the summed weight of one feature's occurrences.
		tf := float64(j - i)
		x := w / tf * (1 + math.Log(tf))
		h := feats[i].hash
		if h>>63 == 1 {
			x = -x
		}
		v[h&mask] += float32(x)
		i = j
	}
	normalize(v)
}

// charNgrams returns the hashes of the character n-grams of "<w>", bytes at a time: for
// text in other scripts these are n-grams of UTF-8 bytes, still consistent between texts.
func (sc *scheme) charNgrams(w string) []uint64 {
	n := sc.charN
	padded := len(w) + 2
	if n == 0 || padded < n {
		return nil
	}
	at := func(i int) byte {
		switch i {
		case 0:
			return '<'
		case padded - 1:
			return '>'
		}
		return w[i-1]
	}
	grams := make([]uint64, padded-n+1)
	for i := range grams {
		h := seedChars
		for k := i; k < i+n; k++ {
			h = (h ^ uint64(at(k))) * fnvPrime
		}
		grams[i] = mix(h)
	}
	return grams
}

// normalize scales v to unit length, or sets it to e1 when it is zero.
func normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		v[0] = 1
		return
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
}

const fnvPrime = 0x100000001b3

// hashString is FNV-1a of s from seed, finished by mix. Fixed, not hash/maphash, whose
// seeds differ between processes: a vector must not change when the server restarts.
func hashString(seed uint64, s string) uint64 {
	h := seed
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return mix(h)
}

// mix is the 64-bit finaliser of MurmurHash3: FNV's low bits are weak, and we take the
// coordinate from the low bits and the sign from the top one.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
