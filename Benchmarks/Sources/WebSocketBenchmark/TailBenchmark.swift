import Foundation
import Logging
import NIOSSL
import WSClient
import WSCompression

/// `callrelay ws tail` as a person runs it, printing every message to a pipe, against
/// swift-websocket's client doing the same (UTF-8 validation on, `print` per message). Both run as
/// `CLIENT | head -n N > /dev/null`, pinned to one core with the sender on the other; the time is
/// until `head` has its N lines.
enum TailBenchmark {
    static func run(messages: Int, repeats: Int, callrelay: String) throws {
        guard FileManager.default.isExecutableFile(atPath: callrelay) else {
            throw BenchmarkError("no callrelay at \(callrelay): swift build -c release first, or pass --callrelay PATH")
        }
        let me = CommandLine.arguments[0]
        let (certificate, key) = try Driver.makeCertificate()
        print("Printing \(messages) messages of 1024 bytes to a pipe (`| head -n \(messages)`), median of \(repeats) rounds.\n")
        print("| stream | callrelay ws tail msg/s | swift-websocket + print msg/s | ratio | ratio, rounds' range |")
        print("|---|---:|---:|---:|---:|")
        for config in Driver.configs {
            let (server, ours, theirs) = try clients(
                config, sender: ["serve"], me: me, callrelay: callrelay, certificate: certificate, key: key)
            defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
            var rates: [(ours: Double, theirs: Double)] = []
            for round in 0..<repeats {
                var pair: [String: Double] = [:]
                for (name, client) in round % 2 == 0
                    ? [("ours", ours), ("theirs", theirs)] : [("theirs", theirs), ("ours", ours)]
                {
                    pair[name] = try rate(client, messages: messages)
                }
                rates.append((pair["ours"] ?? 0, pair["theirs"] ?? 0))
            }
            let ratios = rates.map { $0.ours / $0.theirs }.sorted()
            let oursMedian = rates.map(\.ours).sorted()[rates.count / 2]
            let theirsMedian = rates.map(\.theirs).sorted()[rates.count / 2]
            print(
                "| \(config.name) | \(Int(oursMedian)) | \(Int(theirsMedian)) | \(String(format: "%.2f", ratios[ratios.count / 2]))× | "
                    + "\(String(format: "%.2f", ratios.first ?? 0)) – \(String(format: "%.2f", ratios.last ?? 0)) |")
        }
    }

    /// Both clients printing to a terminal: a tmux pane of 200 × 50, each client run until the
    /// sender has sent `messages` messages and closed, the time taken from the shell in the pane.
    static func runTerminal(messages: Int, repeats: Int, callrelay: String) throws {
        let tmux = "/usr/bin/tmux"
        guard FileManager.default.isExecutableFile(atPath: tmux) else { throw BenchmarkError("no tmux: apt-get install tmux") }
        guard FileManager.default.isExecutableFile(atPath: callrelay) else {
            throw BenchmarkError("no callrelay at \(callrelay): swift build -c release first, or pass --callrelay PATH")
        }
        let me = CommandLine.arguments[0]
        let (certificate, key) = try Driver.makeCertificate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tail-terminal-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A session that outlives the measured ones keeps the tmux server, and its signals, alive.
        let holder = "tail-bench-\(getpid())"
        try tmuxCommand(["new-session", "-d", "-s", holder, "sleep 86400"])
        defer { try? tmuxCommand(["kill-session", "-t", holder]) }
        print("Printing \(messages) messages of 1024 bytes to a terminal (tmux, 200 × 50), median of \(repeats) rounds.\n")
        print("| stream | callrelay ws tail msg/s | swift-websocket + print msg/s | ratio |")
        print("|---|---:|---:|---:|")
        var round = 0
        for config in Driver.configs {
            let (server, ours, theirs) = try clients(
                config, sender: ["serve", "--messages", "\(messages)"], me: me, callrelay: callrelay, certificate: certificate,
                key: key)
            defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
            var rates: [String: [Double]] = [:]
            for index in 0..<repeats {
                for (name, client) in index % 2 == 0
                    ? [("ours", ours), ("theirs", theirs)] : [("theirs", theirs), ("ours", ours)]
                {
                    round += 1
                    let result = directory.appendingPathComponent("\(round)").path
                    let quoted = client.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
                    let script =
                        "start=$(date +%s%N); \(quoted) 2>/dev/null; end=$(date +%s%N); "
                        + "echo $((end - start)) > \(result); tmux wait-for -S \(holder)-\(round)"
                    try tmuxCommand(["new-session", "-d", "-s", "\(holder)-\(round)", "-x", "200", "-y", "50", script])
                    try tmuxCommand(["wait-for", "\(holder)-\(round)"])
                    let nanoseconds =
                        Double(
                            try String(contentsOfFile: result, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
                        ?? .nan
                    rates[name, default: []].append(Double((messages + 63) / 64 * 64) / (nanoseconds / 1e9))
                }
            }
            let oursMedian = (rates["ours"] ?? [0]).sorted()[repeats / 2]
            let theirsMedian = (rates["theirs"] ?? [0]).sorted()[repeats / 2]
            print(
                "| \(config.name) | \(Int(oursMedian)) | \(Int(theirsMedian)) | \(String(format: "%.2f", oursMedian / theirsMedian))× |"
            )
        }
    }

    /// Starts the sender for `config` and returns it with both clients' command lines.
    static func clients(
        _ config: Driver.Config, sender: [String], me: String, callrelay: String, certificate: String, key: String
    ) throws -> (server: Process, ours: [String], theirs: [String]) {
        var serverArguments = sender
        if config.compressed { serverArguments.append("--compressed") }
        if config.tls { serverArguments += ["--certificate", certificate, "--key", key] }
        let (server, port) = try Driver.startSender(me, serverArguments)
        let url = config.tls ? "wss://localhost:\(port)/" : "ws://127.0.0.1:\(port)/"
        var ours = [callrelay, "ws", "tail", url] + (config.tls ? ["--ca-file", certificate] : [])
        if !config.compressed { ours.append("--no-compression") }
        var theirs = [me, "print-tail", "--port", "\(port)"]
        if config.compressed { theirs.append("--compressed") }
        if config.tls { theirs += ["--ca", certificate] }
        return (server, ours, theirs)
    }

    /// Runs tmux and waits for it, with `posix_spawn` and `waitpid`: Foundation's `Process` waits
    /// on a descriptor the tmux server inherits when it daemonizes, so it would wait forever.
    static func tmuxCommand(_ arguments: [String]) throws {
        let argv = (["tmux"] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/tmux", nil, nil, argv, environ) == 0 else {
            throw BenchmarkError("cannot start tmux")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw BenchmarkError("tmux \(arguments.joined(separator: " ")) failed (\(status))") }
    }

    /// Messages per second through `client | head -n messages`, from start to `head`'s exit.
    static func rate(_ client: [String], messages: Int) throws -> Double {
        let quoted = client.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let pipeline = "\(quoted) 2>/dev/null | head -n \(messages) > /dev/null"
        let (command, arguments) = Driver.pinned("/bin/sh", ["-c", pipeline], core: 0)
        let start = ContinuousClock.now
        _ = try Driver.shell(command, arguments)
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        return Double(messages) / seconds
    }

    /// swift-websocket's client printing every text message with `print`, until its pipe closes.
    static func printTail(port: Int, compressed: Bool, caFile: String?) async throws {
        let tls = SwiftWebSocketReceiver.tlsConfiguration(caFile: caFile)
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: 1 << 20,
            extensions: compressed ? [.perMessageDeflate(serverNoContextTakeover: true, maxDecompressedFrameSize: 1 << 20)] : [],
            validateUTF8: true
        )
        let scheme = caFile == nil ? "ws://127.0.0.1" : "wss://localhost"
        let client = WebSocketClient(
            url: "\(scheme):\(port)/", configuration: configuration, tlsConfiguration: tls,
            logger: Logger(label: "swift-websocket")
        ) { inbound, _, _ in
            // SwiftNIO ignores SIGPIPE when it makes a socket, and `print` reports no error: without
            // the default action back, this client would read on forever once `head` has its lines.
            signal(SIGPIPE, SIG_DFL)
            for try await message in inbound.messages(maxSize: 1 << 20) {
                if case .text(let text) = message { print(text) }
            }
        }
        try await client.run()
    }
}
