package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procTimes reads utime+stime of a process in clock ticks.
func procTimes(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatTimes(string(b))
}

// parseStatTimes takes utime and stime (fields 14 and 15) from a
// /proc/<pid>/stat line; the command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatTimes(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat line")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat times")
	}
	return u + s, nil
}

// procMemKB reads VmRSS and VmHWM (peak RSS) of a process, in kB.
func procMemKB(pid string) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, nil
}

// hostCPU reads the busy and total jiffies of all CPUs from /proc/stat.
func hostCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// cpuSource reads a cumulative CPU time in seconds.
type cpuSource struct {
	Name string
	Read func() (float64, bool)
}

func procCPU(name, pid string) cpuSource {
	return cpuSource{name, func() (float64, bool) {
		t, err := procTimes(pid)
		return float64(t) / clockTicks, err == nil
	}}
}

// containerCPU reads a container's CPU time from its cgroup (v1 cpuacct or
// v2 cpu.stat); ok is false when neither is found.
func containerCPU(name, id string) (cpuSource, bool) {
	v1 := "/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage"
	if _, err := os.Stat(v1); err == nil {
		return cpuSource{name, func() (float64, bool) {
			b, err := os.ReadFile(v1)
			ns, err2 := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return float64(ns) / 1e9, err == nil && err2 == nil
		}}, true
	}
	for _, v2 := range []string{"/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.stat", "/sys/fs/cgroup/docker/" + id + "/cpu.stat"} {
		if _, err := os.Stat(v2); err == nil {
			return cpuSource{name, func() (float64, bool) {
				b, err := os.ReadFile(v2)
				if err != nil {
					return 0, false
				}
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
						us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
						return float64(us) / 1e6, err == nil
					}
				}
				return 0, false
			}}, true
		}
	}
	return cpuSource{}, false
}

// usage is what the processes did during one step.
type usage struct {
	CreditdCores float64            // CPU time of creditd / wall time
	Cores        map[string]float64 // every cpuSource, same unit
	OtherCores   float64            // busy CPU not accounted for by the sources
	RSSMaxMB     float64            // largest VmRSS sampled during the step
	HWMMB        float64            // creditd's VmHWM (peak RSS since start) at the end of the step
	HostBusy     float64            // all CPUs, 0..1
	Known        bool               // creditd's pid was known
}

// sampler measures one step: CPU from the difference of cumulative times,
// RSS from sampling every 200 ms.
type sampler struct {
	pid                   string
	sources               []cpuSource
	t0                    time.Time
	cpu0                  []float64
	hostBusy0, hostTotal0 int64
	stop                  chan struct{}
	done                  sync.WaitGroup
	rssMax                int64
}

// startSampler samples creditd (pid, 0 if unknown) and the other sources.
func startSampler(pid int, sources []cpuSource) *sampler {
	s := &sampler{t0: time.Now(), stop: make(chan struct{})}
	if pid > 0 {
		s.pid = strconv.Itoa(pid)
		s.sources = append(s.sources, procCPU("creditd", s.pid))
	}
	s.sources = append(s.sources, sources...)
	s.sources = append(s.sources, procCPU("driver", "self"))
	for _, src := range s.sources {
		v, _ := src.Read()
		s.cpu0 = append(s.cpu0, v)
	}
	s.hostBusy0, s.hostTotal0 = hostCPU()
	if s.pid != "" {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				if rss, _, err := procMemKB(s.pid); err == nil && rss > s.rssMax {
					s.rssMax = rss
				}
				select {
				case <-s.stop:
					return
				case <-t.C:
				}
			}
		}()
	}
	return s
}

func (s *sampler) finish() usage {
	close(s.stop)
	s.done.Wait()
	wall := time.Since(s.t0).Seconds()
	u := usage{Cores: map[string]float64{}}
	busy1, total1 := hostCPU()
	if total1 > s.hostTotal0 {
		u.HostBusy = float64(busy1-s.hostBusy0) / float64(total1-s.hostTotal0)
	}
	accounted := 0.0
	for i, src := range s.sources {
		if v, ok := src.Read(); ok {
			u.Cores[src.Name] = (v - s.cpu0[i]) / wall
			accounted += u.Cores[src.Name]
		}
	}
	u.OtherCores = max(0, u.HostBusy*float64(runtime.NumCPU())-accounted)
	if s.pid == "" {
		return u
	}
	if c, ok := u.Cores["creditd"]; ok {
		u.Known = true
		u.CreditdCores = c
	}
	if rss, hwm, err := procMemKB(s.pid); err == nil {
		u.RSSMaxMB = float64(max(rss, s.rssMax)) / 1024
		u.HWMMB = float64(hwm) / 1024
	}
	return u
}

// backgroundBusy is how busy the CPUs are over d before the benchmark
// starts: other work on the machine lowers every figure.
func backgroundBusy(d time.Duration) float64 {
	b0, t0 := hostCPU()
	time.Sleep(d)
	b1, t1 := hostCPU()
	if t1 <= t0 {
		return 0
	}
	return float64(b1-b0) / float64(t1-t0)
}
