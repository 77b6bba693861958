import Foundation

/// Runs the matrix (plain and TLS, with and without compression) and prints a Markdown table.
enum Driver {
    struct Config {
        var name: String
        var tls: Bool
        var compressed: Bool
    }

    static let configs = [
        Config(name: "ws://", tls: false, compressed: false),
        Config(name: "ws:// + permessage-deflate", tls: false, compressed: true),
        Config(name: "wss://", tls: true, compressed: false),
        Config(name: "wss:// + permessage-deflate", tls: true, compressed: true),
    ]

    static func run(messages: Int, repeats: Int) throws {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let (certificate, key) = try makeCertificate()
        print(
            "Receiving \(messages) messages of \(Workload.messageSize) bytes per run, median of \(repeats) runs, UTF-8 validation on in both."
        )
        print(taskset == nil ? "" : "Sender pinned to core 1, receiver to core 0 (taskset).\n")
        print(
            "| stream | callrelay msg/s | swift-websocket msg/s | ratio | ratio, rounds' range | CPU µs/msg (callrelay / swift-websocket) | peak RSS MiB (callrelay / swift-websocket) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for config in configs {
            var serverArguments = ["serve"]
            if config.compressed { serverArguments.append("--compressed") }
            if config.tls { serverArguments += ["--certificate", certificate, "--key", key] }
            let (server, port) = try startSender(me, serverArguments)
            defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
            var ours: [ReceiveResult] = []
            var theirs: [ReceiveResult] = []
            for round in 0..<repeats {
                // Alternate who goes first, so neither always meets a warm or a cold sender.
                let order = round % 2 == 0 ? ["callrelay", "swift-websocket"] : ["swift-websocket", "callrelay"]
                for implementation in order {
                    var receive = ["receive", "--impl", implementation, "--port", "\(port)", "--messages", "\(messages)"]
                    if config.compressed { receive.append("--compressed") }
                    if config.tls { receive += ["--ca", certificate] }
                    let (command, arguments) = pinned(me, receive, core: 0)
                    let output = try shell(command, arguments)
                    let result = try JSONDecoder().decode(ReceiveResult.self, from: Data(output.utf8))
                    if implementation == "callrelay" { ours.append(result) } else { theirs.append(result) }
                }
            }
            let a = median(ours)
            let b = median(theirs)
            // The ratio is the median of each round's own ratio: the two runs of a round are back to
            // back, so a slow spell of this shared machine weighs on both sides of it alike.
            let ratios = zip(ours, theirs).map { $0.rate / $1.rate }.sorted()
            let ratio = ratios[ratios.count / 2]
            let range = (ratios.first ?? 0, ratios.last ?? 0)
            print(
                "| \(config.name) | \(Int(a.rate)) | \(Int(b.rate)) | \(String(format: "%.2f", ratio))× | "
                    + "\(String(format: "%.2f", range.0)) – \(String(format: "%.2f", range.1)) | "
                    + "\(String(format: "%.2f", a.cpuMicrosecondsPerMessage)) / \(String(format: "%.2f", b.cpuMicrosecondsPerMessage)) | "
                    + "\(String(format: "%.1f", Double(a.peakResidentKiB) / 1024)) / \(String(format: "%.1f", Double(b.peakResidentKiB) / 1024)) |"
            )
        }
    }

    /// Memory per idle connection: each connection receives one message, then nothing.
    static func runIdle(connections: Int) throws {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let (certificate, key) = try makeCertificate()
        print("Holding \(connections) idle connections per run; each received one 1 KiB message first.\n")
        print(
            "| stream | callrelay KiB/connection | swift-websocket KiB/connection | callrelay s to connect all | swift-websocket s to connect all |"
        )
        print("|---|---:|---:|---:|---:|")
        for config in configs {
            var serverArguments = ["serve", "--idle"]
            if config.compressed { serverArguments.append("--compressed") }
            if config.tls { serverArguments += ["--certificate", certificate, "--key", key] }
            let (server, port) = try startSender(me, serverArguments)
            defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
            var results: [String: IdleResult] = [:]
            for implementation in ["callrelay", "swift-websocket"] {
                var arguments = ["hold", "--impl", implementation, "--port", "\(port)", "--connections", "\(connections)"]
                if config.compressed { arguments.append("--compressed") }
                if config.tls { arguments += ["--ca", certificate] }
                let (command, pinnedArguments) = pinned(me, arguments, core: 0)
                let output = try shell(command, pinnedArguments)
                results[implementation] = try JSONDecoder().decode(IdleResult.self, from: Data(output.utf8))
            }
            guard let a = results["callrelay"], let b = results["swift-websocket"] else { continue }
            print(
                "| \(config.name) | \(String(format: "%.1f", a.kibPerConnection)) | \(String(format: "%.1f", b.kibPerConnection)) | "
                    + "\(String(format: "%.2f", a.secondsToConnectAll)) | \(String(format: "%.2f", b.secondsToConnectAll)) |"
            )
        }
    }

    /// A self-signed certificate for `localhost` in a new temporary directory, for the TLS sender.
    static func makeCertificate() throws -> (certificate: String, key: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ws-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        try shell(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost", "-days", "1", "-keyout", key, "-out", certificate,
            ]
        )
        return (certificate, key)
    }

    /// `taskset`, when the machine has it: the sender gets one core and the receiver another, so the
    /// two never compete and each receiver is measured on exactly one core.
    static let taskset: String? = FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") ? "/usr/bin/taskset" : nil

    static func pinned(_ executable: String, _ arguments: [String], core: Int) -> (String, [String]) {
        guard let taskset, ProcessInfo.processInfo.activeProcessorCount > 1 else { return (executable, arguments) }
        return (taskset, ["-c", "\(core)", executable] + arguments)
    }

    /// Starts the sender in a process of its own and reads the port it listens on.
    static func startSender(_ executable: String, _ arguments: [String]) throws -> (Process, Int) {
        let server = Process()
        let (command, pinnedArguments) = pinned(executable, arguments, core: 1)
        server.executableURL = URL(fileURLWithPath: command)
        server.arguments = pinnedArguments
        let pipe = Pipe()
        server.standardOutput = pipe
        try server.run()
        guard let port = readLine(from: pipe).flatMap(Int.init) else {
            kill(server.processIdentifier, SIGKILL)
            throw BenchmarkError("the sender did not start")
        }
        return (server, port)
    }

    static func median(_ results: [ReceiveResult]) -> ReceiveResult {
        results.sorted { $0.rate < $1.rate }[results.count / 2]
    }

    static func readLine(from pipe: Pipe) -> String? {
        var data = Data()
        while true {
            let byte = pipe.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            data.append(byte)
        }
        return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
    }

    @discardableResult
    static func shell(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        try? pipe.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchmarkError("\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
