import Foundation
import Logging
import Relay

// websocket-benchmark: receive rate of 1 KiB JSON text messages, callrelay's WebSocket client against
// hummingbird-project/swift-websocket's WSClient on the same local stream.
//
//   swift run -c release --package-path Benchmarks WebSocketBenchmark [--messages N] [--repeat R]
//   swift run -c release --package-path Benchmarks WebSocketBenchmark idle [--connections N]
//   Benchmarks/.build/release/WebSocketBenchmark tail [--terminal] [--messages N] [--repeat R] [--callrelay .build/release/callrelay]
//   Benchmarks/.build/release/WebSocketBenchmark journal-read [--events N] [--repeat R] [--callrelay PATH] [--keep DATA_DIR]
//   swift run -c release --package-path Benchmarks WebSocketBenchmark tenants [--tenants N]
//   Benchmarks/.build/release/WebSocketBenchmark delivery [--rate 1000] [--seconds 20] [--durability full|normal] [--peers python|swift] [--idle-tenants N] [--timeline] [--log-level warning]
//   Benchmarks/.build/release/WebSocketBenchmark backlog [--events 20000]
//   taskset -c 0 Benchmarks/.build/release/WebSocketBenchmark pipeline [--events N] [--rate R] [--durability full|normal] [--stages] [--keep DATA_DIR]
//
// The driver starts the sender and every receive run as processes of their own, so each run's CPU
// time and peak memory are its own.

let arguments = Array(CommandLine.arguments.dropFirst())

func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func flag(_ name: String) -> Bool { arguments.contains(name) }

do {
    switch arguments.first {
    case "serve":
        try await Blaster.serve(
            compressed: flag("--compressed"),
            idle: flag("--idle"),
            certificate: option("--certificate"),
            key: option("--key"),
            messages: option("--messages").flatMap(Int.init)
        )
    case "hold":
        guard let port = option("--port").flatMap(Int.init), let count = option("--connections").flatMap(Int.init) else {
            throw BenchmarkError("hold needs --port and --connections")
        }
        let result = try await IdleConnections.hold(
            implementation: option("--impl") ?? "callrelay",
            port: port,
            connections: count,
            compressed: flag("--compressed"),
            caFile: option("--ca")
        )
        emitLine(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        exit(0)
    case "receive":
        guard let port = option("--port").flatMap(Int.init), let count = option("--messages").flatMap(Int.init) else {
            throw BenchmarkError("receive needs --port and --messages")
        }
        let result: ReceiveResult
        if option("--impl") == "swift-websocket" {
            result = try await SwiftWebSocketReceiver.run(
                port: port, messages: count, compressed: flag("--compressed"), caFile: option("--ca"))
        } else {
            result = try await CallRelayReceiver.run(
                port: port, messages: count, compressed: flag("--compressed"), caFile: option("--ca"))
        }
        emitLine(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        exit(0)
    case "serve-pbx":
        try await TenantsBenchmark.servePBX(
            tenants: option("--tenants").flatMap(Int.init) ?? 1000, directory: option("--directory") ?? "/tmp")
    case "relay-tenants":
        guard let rest = option("--rest"), let ca = option("--ca") else {
            throw BenchmarkError("relay-tenants needs --rest and --ca")
        }
        let result = try await TenantsBenchmark.relay(
            tenants: option("--tenants").flatMap(Int.init) ?? 1000, restBase: rest, caFile: ca)
        emitLine(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        exit(0)
    case "tenants":
        try TenantsBenchmark.run(tenants: option("--tenants").flatMap(Int.init) ?? 1000)
    case "pipeline":
        try await PipelineBenchmark.run(
            events: option("--events").flatMap(Int.init) ?? 200_000,
            rate: option("--rate").flatMap(Double.init) ?? 0,
            durability: option("--durability").flatMap(JournalOptions.Durability.init(rawValue:)) ?? .full,
            stages: flag("--stages"), keep: option("--keep"))
    case "delivery":
        try await DeliveryBenchmark.run(
            rate: option("--rate").flatMap(Double.init) ?? 1000, seconds: option("--seconds").flatMap(Double.init) ?? 20,
            durability: option("--durability").flatMap(JournalOptions.Durability.init(rawValue:)) ?? .full,
            swiftPeers: option("--peers") == "swift",
            logLevel: option("--log-level").flatMap { Logger.Level(rawValue: $0) } ?? .error,
            idleTenants: option("--idle-tenants").flatMap(Int.init) ?? 0, timeline: flag("--timeline"))
        // The peers' pipes keep Foundation waiting at exit.
        exit(0)
    case "backlog":
        try await BacklogBenchmark.run(events: option("--events").flatMap(Int.init) ?? 20_000)
        // The peers' pipes keep Foundation waiting at exit.
        exit(0)
    case "delivery-peers":
        guard let manifest = option("--manifest"), let record = option("--record"), let secret = option("--secret"),
            let caOut = option("--ca-out"), let events = option("--events").flatMap(Int.init)
        else { throw BenchmarkError("delivery-peers needs --manifest, --record, --secret, --ca-out and --events") }
        try await SwiftPeers.serve(
            manifest: manifest, record: record, secret: secret, caOut: caOut, events: events,
            rate: option("--rate").flatMap(Double.init) ?? 0, idleTenants: option("--idle-tenants").flatMap(Int.init) ?? 0)
    case "tail" where flag("--terminal"):
        try TailBenchmark.runTerminal(
            messages: option("--messages").flatMap(Int.init) ?? 20_000, repeats: option("--repeat").flatMap(Int.init) ?? 3,
            callrelay: option("--callrelay") ?? ".build/release/callrelay")
    case "tail":
        try TailBenchmark.run(
            messages: option("--messages").flatMap(Int.init) ?? 200_000, repeats: option("--repeat").flatMap(Int.init) ?? 3,
            callrelay: option("--callrelay") ?? ".build/release/callrelay")
    case "journal-read":
        try await JournalReadBenchmark.run(
            events: option("--events").flatMap(Int.init) ?? 1_000_000, repeats: option("--repeat").flatMap(Int.init) ?? 3,
            callrelay: option("--callrelay") ?? ".build/release/callrelay", keep: option("--keep"))
    case "print-tail":
        guard let port = option("--port").flatMap(Int.init) else { throw BenchmarkError("print-tail needs --port") }
        try await TailBenchmark.printTail(port: port, compressed: flag("--compressed"), caFile: option("--ca"))
    case "idle":
        try Driver.runIdle(connections: option("--connections").flatMap(Int.init) ?? 1000)
    default:
        try Driver.run(
            messages: option("--messages").flatMap(Int.init) ?? 300_000,
            repeats: option("--repeat").flatMap(Int.init) ?? 3
        )
    }
} catch {
    FileHandle.standardError.write(Data("websocket-benchmark: \(error)\n".utf8))
    exit(1)
}
