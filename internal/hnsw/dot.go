package hnsw

// Dot returns the dot product of a and b[:len(a)] (b must be at least as long): with
// AVX2 and FMA where the processor has them. For unit vectors it is their cosine
// similarity.
func Dot(a, b []float32) float32 { return dot(a, b) }

// dotGeneric is the portable dot product: eight lanes a step into four
// accumulators, so the adds of one step do not wait on each other. The loop
// shape lets the compiler drop every bounds check (checked with
// -gcflags=-d=ssa/check_bce).
func dotGeneric(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	for len(a) >= 8 && len(b) >= 8 {
		s0 += a[0]*b[0] + a[4]*b[4]
		s1 += a[1]*b[1] + a[5]*b[5]
		s2 += a[2]*b[2] + a[6]*b[6]
		s3 += a[3]*b[3] + a[7]*b[7]
		a, b = a[8:], b[8:]
	}
	b = b[:len(a)]
	for i, f := range a {
		s0 += f * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
