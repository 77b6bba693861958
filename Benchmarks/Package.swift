// swift-tools-version: 6.1
import Foundation
import PackageDescription

// A package of its own, so that callrelay never depends on what it is measured against.
// The parent package's identity is its directory's name, whatever the checkout is called.
let callrelay = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "callrelay-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", exact: "1.6.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .executableTarget(
            name: "WebSocketBenchmark",
            dependencies: [
                .product(name: "WebSocket", package: callrelay),
                .product(name: "Relay", package: callrelay),
                .product(name: "CallEvents", package: callrelay),
                .product(name: "CallRelayCore", package: callrelay),
                .product(name: "Xelion", package: callrelay),
                .product(name: "XelionSimulator", package: callrelay),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "WSCompression", package: "swift-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
