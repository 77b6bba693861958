import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Relay
import XelionSimulator

/// The delivery benchmark's peers in Swift (`delivery --peers swift`): `XelionSimulator` as the PBX
/// and a small NIO HTTP endpoint that checks signatures as the CRM, in a process of their own.
///
/// On this 2-core machine the Python peers cannot send 1,000 events a second (the PBX peer tops out
/// near 550, taking a core), and they take the CPU the relay needs; these cost a fraction of that.
/// They write the same manifest and record lines as `xelion_peer.py` and `crm_sink.py`, so the
/// benchmark measures both the same way.
enum SwiftPeers {
    static func serve(
        manifest: String, record: String, secret: String, caOut: String, events: Int, rate: Double
    ) async throws {
        let simulator = try await XelionSimulator.start()
        try (simulator.caPEM ?? "").write(toFile: caOut, atomically: true, encoding: .utf8)
        let manifestFile = LineFile(path: manifest)
        let recordFile = LineFile(path: record)
        let crm = try await startCRM(secret: secret, record: recordFile)
        emitLine(#"{"rest":"\#(simulator.restBase)","ca":"\#(caOut)","crm":\#(crm.localAddress?.port ?? 0)}"#)

        while simulator.fullySubscribedConnections == 0 { try await Task.sleep(for: .milliseconds(20)) }
        var flows = CallFlows(seed: 44, transferRatio: 0.2, missedRatio: 0.2)
        let clock = ContinuousClock()
        let start = clock.now
        var index = 0
        while index < events {
            for event in flows.nextCall() {
                if rate > 0 { try await Task.sleep(until: start + .nanoseconds(Int64(Double(index) * 1e9 / rate)), clock: clock) }
                let sentAt = Date().timeIntervalSince1970
                simulator.send(event)
                var object: [String: Any] = ["notificationType": event.type, "sent_at": sentAt, "duplicate": event.isDuplicate]
                for key in ["callId", "callerFlowId", "calleeFlowId"] { object[key] = event.notification[key] }
                if let data = try? JSONSerialization.data(withJSONObject: object) {
                    manifestFile.append(String(decoding: data, as: UTF8.self))
                }
                index += 1
            }
        }
        // The benchmark kills this process once it has what it needs.
        try await Task.sleep(for: .seconds(3600))
    }

    /// The stand-in CRM: verifies each webhook's signature, answers 204 (401 when it does not match)
    /// and records the body with the time it arrived.
    static func startCRM(secret: String, record: LineFile) async throws -> any Channel {
        let signer = try WebhookSigner(secrets: [secret])
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(CRMHandler(signer: signer, record: record))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    final class CRMHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let signer: WebhookSigner
        let record: LineFile
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(signer: WebhookSigner, record: LineFile) {
            self.signer = signer
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var chunk):
                body.writeBuffer(&chunk)
            case .end:
                let receivedAt = Date().timeIntervalSince1970
                let text = String(buffer: body)
                let headers = head?.headers ?? [:]
                let id = headers.first(name: "webhook-id") ?? ""
                let timestamp = headers.first(name: "webhook-timestamp").flatMap(TimeInterval.init) ?? 0
                let expected = signer.headers(id: id, timestamp: Date(timeIntervalSince1970: timestamp), body: text)
                    .first { $0.name == "webhook-signature" }?.value
                let signed = expected != nil && expected == headers.first(name: "webhook-signature")
                if signed { record.append(#"{"received_at":\#(receivedAt),"body":\#(text)}"#) }
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "Content-Length", value: "0")
                let status: HTTPResponseStatus = signed ? .noContent : .unauthorized
                context.write(
                    wrapOutboundOut(.head(.init(version: .http1_1, status: status, headers: responseHeaders))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

/// JSON lines appended to a file from any thread; a background thread writes them out every 50 ms,
/// so that neither the event loops nor the pacing loop wait on the disk.
final class LineFile: Sendable {
    private let pending = NIOLockedValueBox<[String]>([])

    init(path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = FileHandle(forWritingAtPath: path)
        let pending = self.pending
        Thread.detachNewThread {
            while true {
                Thread.sleep(forTimeInterval: 0.05)
                let lines = pending.withLockedValue { lines in
                    defer { lines.removeAll(keepingCapacity: true) }
                    return lines
                }
                if !lines.isEmpty { handle?.write(Data((lines.joined(separator: "\n") + "\n").utf8)) }
            }
        }
    }

    func append(_ line: String) { pending.withLockedValue { $0.append(line) } }
}
