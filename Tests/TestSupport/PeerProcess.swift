import Foundation

/// Where the repository and its test tooling are, found from this file's own path.
public enum TestEnvironment {
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The Python with the peers' requirements: `CALLRELAY_PYTHON`, or the `.venv` that
    /// `scripts/test` makes.
    public static var python: String {
        ProcessInfo.processInfo.environment["CALLRELAY_PYTHON"] ?? repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// `../shared/peer`, beside the repository.
    public static let sharedPeers = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/peer")

    /// The `callrelay` binary built next to the test bundle.
    public static var callrelay: String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("callrelay").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return repositoryRoot.appendingPathComponent(".build/debug/callrelay").path
    }

    public static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("callrelay-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// A child process whose first line of output is a JSON object announcing it is ready. Its stdin is
/// a pipe we hold, so it also ends if the test process dies.
public final class PeerProcess: @unchecked Sendable {
    public let process = Process()
    private let stdin = Pipe()
    private let stdout = Pipe()
    public private(set) var ready: [String: Any] = [:]
    /// The child's stderr: the caller's file, or one of ours. A child that dies before its first line
    /// is reported with the end of it, so a failure in CI says why without a rerun.
    private let errorLog: URL
    private var reportedExit = false

    /// - Parameters:
    ///   - environment: added to this process's environment.
    ///   - standardError: a file that receives the child's stderr (otherwise a temporary one).
    public init(
        _ executable: String,
        _ arguments: [String],
        readyLine: Bool = true,
        environment: [String: String] = [:],
        standardError: URL? = nil
    ) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw PeerError(
                description:
                    "\(executable) is missing: run scripts/test, or set CALLRELAY_PYTHON to a Python with ../shared/peer/requirements.txt"
            )
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = stdin
        process.standardOutput = stdout
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        errorLog = standardError ?? TestEnvironment.temporaryDirectory().appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errorLog)
        try process.run()
        // Our copies of the child's ends: closing them lets EOF arrive when the child exits.
        try? stdout.fileHandleForWriting.close()
        try? stdin.fileHandleForReading.close()
        if readyLine {
            let line = try readLine()
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw PeerError(description: "not a ready line: \(line)")
            }
            ready = object
        }
    }

    /// Reads one line of the child's stdout (blocking this thread, not an event loop).
    public func readLine() throws -> String {
        var data = Data()
        while true {
            let byte = stdout.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty {
                throw PeerError(
                    description:
                        "\(name) exited before writing a line: \(String(decoding: data, as: UTF8.self)); its stderr ended with: \(errorTail(2000))"
                )
            }
            if byte == Data([0x0A]) { return String(decoding: data, as: UTF8.self) }
            data.append(byte)
        }
    }

    /// Everything the child writes to stdout until it exits. Reads while it runs (a child that writes
    /// more than a pipe holds would otherwise never exit), and stops at its exit without waiting for
    /// EOF: a process started later may have inherited the pipe, so EOF may never come.
    public func readRest() -> String {
        let descriptor = stdout.fileHandleForReading.fileDescriptor
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        func readAvailable() -> Int {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 { data.append(contentsOf: chunk[..<count]) }
            return count
        }
        while process.isRunning {
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&request, 1, 100) > 0, readAvailable() == 0 { break }
        }
        process.waitUntilExit()
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        while readAvailable() > 0 {}
        return String(decoding: data, as: UTF8.self)
    }

    private var name: String { process.executableURL?.lastPathComponent ?? "peer" }

    /// The last `count` characters the child wrote to stderr.
    private func errorTail(_ count: Int) -> Substring {
        ((try? String(contentsOf: errorLog, encoding: .utf8)) ?? "").suffix(count)
    }

    /// SIGINT, as Ctrl-C sends it.
    public func interrupt() { kill(process.processIdentifier, SIGINT) }

    public func waitForExit() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Ends the process for sure: children inherit the test runner's blocked signals, so SIGTERM
    /// may never arrive; SIGKILL cannot be blocked.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        } else if !reportedExit, process.processIdentifier != 0, process.terminationStatus != 0 {
            // It ended by itself and unhappily: what it said belongs in the test run's output.
            reportedExit = true
            let errors = errorTail(4000)
            if !errors.isEmpty {
                FileHandle.standardError.write(Data("\(name) exited \(process.terminationStatus):\n\(errors)\n".utf8))
            }
        }
        try? stdin.fileHandleForWriting.close()
        // Not `waitUntilExit()`: it spins this thread until Foundation's exit handler has run on a
        // dispatch worker, and `stop()` is called from tests on the concurrency pool, whose threads are
        // those workers. Two stops at once on this 2-core machine spun both for good (seen: the whole
        // run hung with both pool threads in `waitUntilExit`). Dead is enough: a zombie holds no port.
        if process.processIdentifier != 0 { Self.waitUntilDead(process.processIdentifier) }
    }

    deinit { stop() }

    /// Waits (at most ten seconds) until `pid` has exited, reaped or not, reading its state in `/proc`
    /// every few milliseconds: no thread or dispatch source of anyone else's is needed.
    private static func waitUntilDead(_ pid: Int32) {
        for _ in 0..<2000 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { return }
            // "pid (name) S ...": the state follows the name, which may itself hold ')'.
            let state = stat[stat.index(after: end)...].dropFirst().first
            if state == "Z" || state == "X" { return }
            _ = poll(nil, 0, 5)
        }
    }
}

/// A loopback port nothing listens on, by binding one and letting it go.
public func unusedPort() -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Launches something on `count` ports found free, with fresh ones when the launch fails: a port
/// found free can be taken (as the local port of another test's outgoing connection) before the
/// launched process binds it.
public func onFreePorts<T>(_ count: Int, attempts: Int = 3, _ launch: ([Int]) throws -> T) throws -> T {
    var attempt = 1
    while true {
        do {
            return try launch((0..<count).map { _ in unusedPort() })
        } catch  where attempt < attempts {
            attempt += 1
        }
    }
}

/// ``onFreePorts(_:attempts:_:)`` for a launch that waits.
public func onFreePorts<T>(_ count: Int, attempts: Int = 3, _ launch: ([Int]) async throws -> T) async throws -> T {
    var attempt = 1
    while true {
        do {
            return try await launch((0..<count).map { _ in unusedPort() })
        } catch  where attempt < attempts {
            attempt += 1
        }
    }
}

/// Runs blocking work (reading a pipe, waiting for a child) on a thread of its own, never on one of
/// the few threads Swift concurrency runs every test task on.
public func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

extension PeerProcess {
    /// Starts a process and reads its ready line without blocking a concurrency thread.
    public static func launch(
        _ executable: String,
        _ arguments: [String],
        readyLine: Bool = true,
        environment: [String: String] = [:],
        standardError: URL? = nil
    ) async throws -> PeerProcess {
        try await offThread {
            try PeerProcess(executable, arguments, readyLine: readyLine, environment: environment, standardError: standardError)
        }
    }

    /// The next line of stdout; after `seconds` the process is killed, which ends the read.
    public func line(within seconds: Double = 60) async throws -> String {
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            kill(pid, SIGKILL)
        }
        defer { watchdog.cancel() }
        return try await offThread { try self.readLine() }
    }

    /// Waits for the process to exit; after `seconds` it is killed and -1 returned, so a stuck child
    /// fails its test instead of hanging the run.
    public func exitStatus(within seconds: Double = 60) async -> Int32 {
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            kill(pid, SIGKILL)
        }
        defer { watchdog.cancel() }
        let status = (try? await offThread { self.waitForExit() }) ?? -1
        return process.terminationReason == .exit ? status : -1
    }

    public func rest() async -> String { (try? await offThread { self.readRest() }) ?? "" }
}
