// Command gorohog is Go's side of goro's "hog" row in BENCHMARKS.md: on one
// P, a goroutine spawns 100 short goroutines and then hogs its thread for
// 500 ms without yielding. Go's asynchronous preemption lets the short ones
// run after about 10 ms. Prints: go hog <figure> <value>.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1)
	const n = 100
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			wg.Add(1)
			t := time.Now()
			go func() {
				lat[i] = time.Since(t)
				wg.Done()
			}()
		}
		start := time.Now()
		x := 0
		for time.Since(start) < 500*time.Millisecond {
			x++
		}
		_ = x
		close(done)
	}()
	wg.Wait()
	<-done
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	fmt.Printf("go hog p50_ms %.3f\n", float64(lat[n/2].Microseconds())/1e3)
	fmt.Printf("go hog max_ms %.3f\n", float64(lat[n-1].Microseconds())/1e3)
}
