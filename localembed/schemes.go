package localembed

// The schemes measured on SciFact (see the package doc). Only defaultScheme is reachable
// from outside; the others stay so that the measurement can be re-run against them with
// BenchmarkSciFact's -schemes flag.
var (
	// Words: stemmed, stop words dropped.
	schemeUni = &scheme{name: "hash-uni", stem: true, unigrams: 1}
	// Words and pairs of consecutive words.
	schemeUniBi = &scheme{name: "hash-unibi", stem: true, unigrams: 1, bigrams: 0.5}
	// Words unstemmed, and pairs.
	schemeUniBiNoStem = &scheme{name: "hash-unibi-nostem", unigrams: 1, bigrams: 0.5}
	// Words and their character trigrams, which match inflections and compounds the
	// stemmer misses ("immunotherapy", "immunotherapies").
	schemeUniChar3 = &scheme{name: "hash-unichar3", stem: true, unigrams: 1, charN: 3, chars: 1}
	// Words weighted by rarity in general English (weights.go), a corpus-free IDF.
	schemeRareUni    = &scheme{name: "hash-rare-uni", stem: true, unigrams: 1, rarity: 1}
	schemeRareUni100 = &scheme{name: "hash-rare100-uni", stem: true, unigrams: 1, rarity: 100}
	schemeRareUniBi  = &scheme{name: "hash-rare-unibi", stem: true, unigrams: 1, bigrams: 0.5, rarity: 1}
	// Rarity-weighted words and their character n-grams.
	schemeRareUniChar3 = &scheme{name: "hash-rare-unichar3", stem: true, unigrams: 1, charN: 3, chars: 1, rarity: 1}
	schemeRareUniChar4 = &scheme{name: "hash-rare-unichar4", stem: true, unigrams: 1, charN: 4, chars: 1, rarity: 1}
	schemeRareUniChar5 = &scheme{name: "hash-rare-unichar5", stem: true, unigrams: 1, charN: 5, chars: 1, rarity: 1}
	schemeRareUniChar6 = &scheme{name: "hash-rare-unichar6", stem: true, unigrams: 1, charN: 6, chars: 1, rarity: 1}
)

// candidates are the schemes BenchmarkSciFact compares by default.
var candidates = []*scheme{
	schemeUni, schemeUniBi, schemeUniBiNoStem, schemeUniChar3,
	schemeRareUni, schemeRareUni100, schemeRareUniBi,
	schemeRareUniChar3, schemeRareUniChar4, schemeRareUniChar5, schemeRareUniChar6,
}
