import Foundation
import TestSupport

/// The `websockets`-package server of `Peers/ws_server.py`, started once for the whole run.
enum WebSocketPeer {
    struct Ports: Sendable {
        var ports: [String: Int]
        var caFile: String
        func url(_ config: String, _ path: String, secure: Bool = false, host: String = "127.0.0.1") -> String {
            "\(secure ? "wss" : "ws")://\(host):\(ports[config] ?? 0)\(path)"
        }
    }

    private static let shared: Result<(PeerProcess, Ports), PeerError> = {
        do {
            let directory = TestEnvironment.temporaryDirectory()
            let script = TestEnvironment.repositoryRoot.appendingPathComponent(
                "Tests/WebSocketIntegrationTests/Peers/ws_server.py"
            ).path
            let peer = try PeerProcess(
                TestEnvironment.python, [script, "--ca-out", directory.appendingPathComponent("ca.pem").path])
            guard let ports = peer.ready["ports"] as? [String: Int], let ca = peer.ready["ca"] as? String else {
                throw PeerError(description: "bad ready line \(peer.ready)")
            }
            return .success((peer, Ports(ports: ports, caFile: ca)))
        } catch let error as PeerError {
            return .failure(error)
        } catch {
            return .failure(PeerError(description: "\(error)"))
        }
    }()

    static func start() throws -> Ports { try shared.get().1 }
}
