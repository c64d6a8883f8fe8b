//go:build !amd64

package hnsw

func dot(a, b []float32) float32 { return dotGeneric(a, b) }
