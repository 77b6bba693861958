import Foundation
import Logging
import Relay
import Xelion
import XelionSimulator

#if canImport(Glibc)
    import Glibc
#endif

/// Resident memory per idle tenant connection with many tenants against the
/// simulator, and the time to connect (log in, fetch a socket URL, connect, subscribe) all of them.
enum TenantsBenchmark {
    /// The PBX side, in a process of its own: prints its REST base and CA file, serves until killed.
    static func servePBX(tenants: Int, directory: String) async throws {
        var configuration = XelionSimulator.Configuration()
        configuration.users = (0..<tenants).map { (String(format: "t%04d", $0), "admin", "secret") }
        let simulator = try await XelionSimulator.start(configuration)
        let ca = directory + "/simulator-ca.pem"
        try (simulator.caPEM ?? "").write(toFile: ca, atomically: true, encoding: .utf8)
        emitLine(simulator.restBase)
        try await Task.sleep(for: .seconds(86400))
    }

    struct Result: Codable {
        var tenants: Int
        var secondsToSubscribeAll: Double
        /// From the graceful shutdown's start until every socket is closed and every session logged out.
        var secondsToShutDown: Double
        var residentBeforeKiB: Int
        var residentAfterKiB: Int
        /// After returning freed heap to the system (glibc keeps what the connection burst freed).
        var residentTrimmedKiB: Int
        /// Descriptors open in the relay's process once every tenant is subscribed.
        var openFiles: Int
        var kibPerTenant: Double { Double(residentAfterKiB - residentBeforeKiB) / Double(tenants) }
        var kibPerTenantTrimmed: Double { Double(residentTrimmedKiB - residentBeforeKiB) / Double(tenants) }
    }

    /// The relay side: one `RelayDaemon` with `tenants` tenants.
    static func relay(tenants: Int, restBase: String, caFile: String) async throws -> Result {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("tenants-bench-\(getpid())")
        let configuration = RelayConfiguration(
            dataDirectory: data,
            tenants: (0..<tenants).map { .simulated(String(format: "t%04d", $0), rest: restBase, caFile: caFile) }
        )
        let before = residentKiB()
        let start = ContinuousClock.now
        let daemon = try RelayDaemon(configuration: configuration, logger: logger, logStream: false)
        let built = residentKiB()
        FileHandle.standardError.write(Data("daemon built: \((built - before) / tenants) KiB per tenant\n".utf8))
        let run = Task { try await daemon.run() }
        while daemon.sources.contains(where: { $0.status.state != .subscribed }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = ContinuousClock.now - start
        try await Task.sleep(for: .seconds(2))  // idle: let handshakes' transient buffers go
        let after = residentKiB()
        let openFiles = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
        _ = mallocTrim(0)
        let trimmed = residentKiB()
        let stopping = ContinuousClock.now
        await daemon.shutdown()
        _ = try? await run.value
        let stopped = ContinuousClock.now - stopping
        return Result(
            tenants: tenants,
            secondsToSubscribeAll: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            secondsToShutDown: Double(stopped.components.seconds) + Double(stopped.components.attoseconds) / 1e18,
            residentBeforeKiB: before,
            residentAfterKiB: after,
            residentTrimmedKiB: trimmed,
            openFiles: openFiles
        )
    }

    static func run(tenants: Int) throws {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenants-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: me)
        server.arguments = ["serve-pbx", "--tenants", "\(tenants)", "--directory", directory.path]
        let pipe = Pipe()
        server.standardOutput = pipe
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        guard let rest = Driver.readLine(from: pipe) else { throw BenchmarkError("the simulator did not start") }
        let output = try Driver.shell(
            me, ["relay-tenants", "--tenants", "\(tenants)", "--rest", rest, "--ca", directory.path + "/simulator-ca.pem"])
        let result = try JSONDecoder().decode(Result.self, from: Data(output.utf8))
        print(
            "| tenants | KiB per idle tenant | after malloc_trim | seconds to subscribe all | seconds to shut down | open files |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        print(
            "| \(result.tenants) | \(String(format: "%.1f", result.kibPerTenant)) | \(String(format: "%.1f", result.kibPerTenantTrimmed)) | "
                + "\(String(format: "%.2f", result.secondsToSubscribeAll)) | \(String(format: "%.2f", result.secondsToShutDown)) | "
                + "\(result.openFiles) |"
        )
    }
}

/// glibc's malloc_trim, which <malloc.h> declares but the Glibc module does not export.
@_silgen_name("malloc_trim")
func mallocTrim(_ pad: Int) -> Int32
