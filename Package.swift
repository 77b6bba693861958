// swift-tools-version: 6.1
import PackageDescription

// Strict by default: every target builds in the Swift 6 language mode with these on.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "callrelay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "callrelay", targets: ["CallRelayCLI"]),
        .library(name: "CallRelayCore", targets: ["CallRelayCore"]),
        .library(name: "WebSocket", targets: ["WebSocket"]),
        .library(name: "Xelion", targets: ["Xelion"]),
        .library(name: "CallEvents", targets: ["CallEvents"]),
        .library(name: "Relay", targets: ["Relay"]),
        .library(name: "XelionSimulator", targets: ["XelionSimulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Tests only: generated and shrunk inputs for the parsers of outside input.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // The system zlib, for permessage-deflate (RFC 7692).
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // RFC 6455 + RFC 7692, client and server roles. Knows nothing about Xelion.
        .target(
            name: "WebSocket",
            dependencies: [
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                // The server's certificate checked inside the TLS handshake (see CertificateVerification).
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSettings
        ),
        // What every provider and the event model share, and nothing provider-specific: JSON parsed
        // and written over bytes, numbers kept as their text, RFC 3339 times.
        .target(name: "CallRelayCore", swiftSettings: strictSettings),
        // The Xelion PBX: REST session, socket messages, lenient call-event decoding, and the mapping
        // of its events into the normalized schema.
        .target(
            name: "Xelion",
            dependencies: [
                "CallRelayCore",
                "CallEvents",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The normalized call-event schema (CloudEvents envelope), provider-neutral: each provider's
        // target maps its own events into it.
        .target(
            name: "CallEvents",
            dependencies: [
                "CallRelayCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // A Xelion-compatible PBX in Swift, served with our own socket layer: for the demo and benchmarks.
        .target(
            name: "XelionSimulator",
            dependencies: [
                "WebSocket",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSettings
        ),
        // The daemon as a pipeline: tenant sources → normalize and dedupe → journal → sinks.
        .target(
            name: "Relay",
            dependencies: [
                "CallRelayCore",
                "WebSocket",
                "Xelion",
                "CallEvents",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        // `callrelay`: a thin command line over the libraries.
        .executableTarget(
            name: "CallRelayCLI",
            dependencies: [
                "CallRelayCore",
                "WebSocket",
                "Xelion",
                "XelionSimulator",
                "CallEvents",
                "Relay",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebSocketTests",
            dependencies: [
                "WebSocket",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallRelayCoreTests",
            dependencies: ["CallRelayCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CallEventsTests",
            dependencies: ["CallEvents"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XelionTests",
            dependencies: ["Xelion", "CallEvents", "CallRelayCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XelionSimulatorTests",
            dependencies: ["XelionSimulator"],
            swiftSettings: strictSettings
        ),
        // Starting and stopping the Python peers, for the integration tests.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strictSettings),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "Relay", "CallRelayCore", "Xelion", "CallEvents", "XelionSimulator", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Peers"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RelayIntegrationTests",
            dependencies: [
                "Relay", "CallRelayCore", "Xelion", "CallEvents", "WebSocket", "TestSupport", "XelionSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebSocketIntegrationTests",
            dependencies: [
                "WebSocket", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Peers"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
