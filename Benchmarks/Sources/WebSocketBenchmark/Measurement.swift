import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Process CPU time and peak memory, from getrusage.
struct Usage {
    var cpuSeconds: Double
    var peakResidentKiB: Int

    static func now() -> Usage {
        var usage = rusage()
        #if canImport(Glibc)
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
            getrusage(RUSAGE_SELF, &usage)
        #endif
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
        #if canImport(Darwin)
            let peak = Int(usage.ru_maxrss) / 1024
        #else
            let peak = Int(usage.ru_maxrss)
        #endif
        return Usage(cpuSeconds: cpu, peakResidentKiB: peak)
    }
}

/// What one receive run measured, printed as one JSON line for the driver.
struct ReceiveResult: Codable {
    var implementation: String
    var messages: Int
    var seconds: Double
    var cpuSeconds: Double
    var peakResidentKiB: Int
    var bytes: Int

    var rate: Double { Double(messages) / seconds }
    var cpuMicrosecondsPerMessage: Double { cpuSeconds / Double(messages) * 1_000_000 }
}

/// Counts messages and takes the clock and CPU time between the first and the last one.
struct ReceiveMeter {
    let target: Int
    var count = 0
    var bytes = 0
    var started: ContinuousClock.Instant?
    var startUsage: Usage?

    init(target: Int) { self.target = target }

    /// Returns the result once the target is reached.
    mutating func received(bytes size: Int) -> ReceiveResult? {
        if count == 0 {
            started = .now
            startUsage = .now()
        }
        count += 1
        bytes += size
        guard count == target + 1, let started, let startUsage else { return nil }
        let elapsed = ContinuousClock.now - started
        let end = Usage.now()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ReceiveResult(
            implementation: "",
            messages: target,
            seconds: seconds,
            cpuSeconds: end.cpuSeconds - startUsage.cpuSeconds,
            peakResidentKiB: end.peakResidentKiB,
            bytes: bytes
        )
    }
}

/// Writes a line to stdout at once (the driver reads it through a pipe).
func emitLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
