import Foundation
import NIOCore
import Testing

@testable import WebSocket

/// A connection's buffers come from ``ConnectionMemory``: small ones from the heap, large ones from
/// pages of their own. Whichever they come from, and however they grow, they hold what was written.
@Suite("Connection memory")
struct ConnectionMemoryTests {
    private func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }
    }

    @Test("a buffer that grows from the heap onto pages of its own, and on, keeps every byte")
    func growsAcrossTheThreshold() {
        var buffer = ConnectionMemory.allocator.buffer(capacity: 64)
        var written: [UInt8] = []
        // 64 B → 200 KiB: every reallocation path (heap to heap, heap to pages, pages to pages).
        for (index, chunk) in [100, 4_000, 12_000, 20_000, 70_000, 100_000].enumerated() {
            let bytes = pattern(chunk, seed: UInt8(index))
            buffer.writeBytes(bytes)
            written += bytes
            #expect(buffer.readableBytesView.elementsEqual(written))
        }
        #expect(buffer.capacity >= ConnectionMemory.mappedThreshold)
    }

    @Test("copy on write of a mapped buffer leaves both copies intact")
    func copyOnWrite() {
        var original = ConnectionMemory.allocator.buffer(capacity: 40_000)
        original.writeBytes(pattern(30_000, seed: 7))
        var copy = original
        copy.writeBytes(pattern(30_000, seed: 9))
        #expect(original.readableBytes == 30_000)
        #expect(original.readableBytesView.elementsEqual(pattern(30_000, seed: 7)))
        #expect(copy.readableBytesView.elementsEqual(pattern(30_000, seed: 7) + pattern(30_000, seed: 9)))
    }

    #if os(Linux)
        @Test("large buffers released give their pages back")
        func releasesPages() throws {
            func residentBytes() throws -> Int {
                let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
                return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
            }
            let before = try residentBytes()
            // Each round writes every page of 1 MiB; if released pages stayed resident, this would hold 100 MiB.
            for round in 0..<100 {
                var buffer = ConnectionMemory.allocator.buffer(capacity: 1 << 20)
                buffer.writeRepeatingByte(UInt8(truncatingIfNeeded: round), count: 1 << 20)
                #expect(buffer.getInteger(at: (1 << 20) - 1, as: UInt8.self) == UInt8(truncatingIfNeeded: round))
            }
            #expect(try residentBytes() - before < 64 << 20)
        }
    #endif
}
