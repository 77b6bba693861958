@_spi(CustomByteBufferAllocator) import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The byte-buffer allocator of a WebSocket connection's channel: buffers of 16 KiB or more get
/// pages of their own, so only the pages written to are resident.
///
/// swift-nio-ssl gives every connection a 32 KiB plaintext buffer and a 16 KiB ciphertext buffer
/// for its whole life. From the heap, those come out of memory that earlier buffers already
/// touched, and an idle connection that only ever saw a few small messages holds all of it; from
/// fresh pages it holds the one or two it wrote. Smaller buffers come from `malloc` as usual.
enum ConnectionMemory {
    static let allocator = ByteBufferAllocator(
        allocate: connectionMemoryAllocate,
        reallocate: connectionMemoryReallocate,
        deallocate: connectionMemoryDeallocate,
        copy: connectionMemoryCopy
    )

    /// Buffers at least this large are mapped.
    static let mappedThreshold = 16 * 1024
}

/// Every block starts with this header: the bytes the block spans and whether it is mapped. 16
/// bytes, so the buffer after it keeps malloc's alignment.
private struct BlockHeader {
    var blockSize: Int
    var mapped: Int
}

private let headerSize = 16
private let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

private func connectionMemoryAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
    if size >= ConnectionMemory.mappedThreshold {
        let blockSize = (size + headerSize + pageSize - 1) / pageSize * pageSize
        let block = mmap(nil, blockSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if let block, block != UnsafeMutableRawPointer(bitPattern: -1) {
            block.storeBytes(of: BlockHeader(blockSize: blockSize, mapped: 1), as: BlockHeader.self)
            return block + headerSize
        }
        // No mapping to be had: the heap still may have room.
    }
    guard let block = malloc(size + headerSize) else { return nil }
    block.storeBytes(of: BlockHeader(blockSize: size + headerSize, mapped: 0), as: BlockHeader.self)
    return block + headerSize
}

private func connectionMemoryReallocate(
    _ pointer: UnsafeMutableRawPointer?, _ oldSize: Int, _ newSize: Int
) -> UnsafeMutableRawPointer? {
    guard let pointer else { return connectionMemoryAllocate(newSize) }
    let block = pointer - headerSize
    let header = block.load(as: BlockHeader.self)
    if header.mapped == 0 && newSize < ConnectionMemory.mappedThreshold {
        guard let moved = realloc(block, newSize + headerSize) else { return nil }
        moved.storeBytes(of: BlockHeader(blockSize: newSize + headerSize, mapped: 0), as: BlockHeader.self)
        return moved + headerSize
    }
    guard let fresh = connectionMemoryAllocate(newSize) else { return nil }
    fresh.copyMemory(from: pointer, byteCount: min(header.blockSize - headerSize, newSize))
    connectionMemoryDeallocate(pointer)
    return fresh
}

private func connectionMemoryDeallocate(_ pointer: UnsafeMutableRawPointer) {
    let block = pointer - headerSize
    let header = block.load(as: BlockHeader.self)
    if header.mapped == 1 {
        munmap(block, header.blockSize)
    } else {
        free(block)
    }
}

private func connectionMemoryCopy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
    destination.copyMemory(from: source, byteCount: count)
}
