import Foundation
import XCTest
@testable import AgentCore

/// Real files written by the test, digests checked against coreutils' sha1sum, sha256sum and md5sum.
final class FileHasherTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hasher-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func write(_ name: String, bytes count: Int, seed: UInt8 = 7) throws -> String {
        var bytes = [UInt8](repeating: 0, count: count)
        var x = UInt32(seed) &* 2_654_435_761
        for i in bytes.indices {
            x = x &* 1_103_515_245 &+ 12345
            bytes[i] = UInt8(truncatingIfNeeded: x >> 16)
        }
        let path = scratch.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    /// `<algorithm>:<hex>` as coreutils computes it.
    private func coreutils(_ algorithm: HashAlgorithm, _ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(algorithm.rawValue)sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let hex = String(decoding: output, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
        return "\(algorithm.rawValue):\(hex)"
    }

    /// Submits and waits for the answer.
    private func hash(_ hasher: FileHasher, _ request: HashRequest) throws -> HashResult {
        let submission = hasher.submit(request)
        if let immediate = submission.immediate { return immediate }
        XCTAssertTrue(hasher.waitForOutstanding(timeoutNs: 10_000_000_000))
        let done = hasher.takeCompleted()
        XCTAssertEqual(done.map { $0.ticket }, [submission.ticket])
        return try XCTUnwrap(done.first?.result)
    }

    private func fileStat(_ path: String) throws -> Glibc.stat {
        var st = Glibc.stat()
        XCTAssertEqual(lstat(path, &st), 0)
        return st
    }

    func testDigestsMatchCoreutils() throws {
        let path = try write("payload", bytes: 300_000)
        let hasher = FileHasher()
        let result = try hash(hasher, HashRequest(path: path, algorithms: [.sha1, .sha256, .md5]))
        XCTAssertEqual(result.state, .done, result.detail ?? "")
        XCTAssertEqual(result.hashes, [try coreutils(.sha1, path), try coreutils(.sha256, path), try coreutils(.md5, path)])
        XCTAssertFalse(result.fromCache)
        XCTAssertEqual(result.path, path)
        // Default algorithms: Datadog's sha1 and sha256 (no ssdeep).
        let defaults = try hash(hasher, HashRequest(path: try write("other", bytes: 1000, seed: 3)))
        XCTAssertEqual(defaults.hashes.map { $0.split(separator: ":").first.map(String.init) }, ["sha1", "sha256"])
        XCTAssertEqual(FileHasher.digestString(.sha256, of: Array("abc".utf8)),
                       "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hasher.counters.hashed, 2)
        XCTAssertEqual(hasher.counters.bytesHashed, 301_000)
    }

    func testSecondRequestIsACacheHit() throws {
        let path = try write("cached", bytes: 100_000)
        let hasher = FileHasher()
        let first = try hash(hasher, HashRequest(path: path))
        XCTAssertEqual(first.state, .done)
        // Without the event's identity: the worker opens the file, finds it in the cache, does not read it.
        let again = try hash(hasher, HashRequest(path: path))
        XCTAssertEqual(again.hashes, first.hashes)
        XCTAssertTrue(again.fromCache)
        // With it (device, inode, mtime, ctime as the BPF side reports them): answered by submit itself.
        let st = try fileStat(path)
        // glibc's dev_t to the kernel's encoding (major << 20 | minor), as FileInfo.device holds it.
        let dev = UInt64(st.st_dev)
        let major = UInt32(((dev >> 8) & 0xFFF) | ((dev >> 32) & ~UInt64(0xFFF)))
        let minor = UInt32((dev & 0xFF) | ((dev >> 12) & ~UInt64(0xFF)))
        let device = (major << 20) | minor
        let file = FileInfo(path: path, inode: UInt64(st.st_ino), device: device,
                            changeTimeNs: UInt64(st.st_ctim.tv_sec) * 1_000_000_000 + UInt64(st.st_ctim.tv_nsec),
                            modificationTimeNs: UInt64(st.st_mtim.tv_sec) * 1_000_000_000 + UInt64(st.st_mtim.tv_nsec))
        let submission = hasher.submit(HashRequest(file: file, pid: UInt32(getpid()), inContainer: false))
        XCTAssertEqual(submission.immediate?.hashes, first.hashes)
        XCTAssertEqual(submission.immediate?.fromCache, true)
        XCTAssertEqual(hasher.counters.hashed, 1)
        XCTAssertEqual(hasher.counters.cacheHits, 2)
        // Another algorithm is not in the cache: read again.
        let md5 = try hash(hasher, HashRequest(path: path, algorithms: [.md5]))
        XCTAssertEqual(md5.hashes, [try coreutils(.md5, path)])
        XCTAssertFalse(md5.fromCache)
        // Rewritten in place (same inode, new mtime and ctime): not the cached content.
        usleep(10_000)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.write(Data([1, 2, 3]))
        try handle.close()
        let rewritten = try hash(hasher, HashRequest(path: path))
        XCTAssertFalse(rewritten.fromCache)
        XCTAssertEqual(rewritten.hashes, [try coreutils(.sha1, path), try coreutils(.sha256, path)])
    }

    func testLeastRecentlyUsedFileLeavesTheCache() throws {
        var settings = FileHasherSettings()
        settings.cacheCapacity = 2
        let hasher = FileHasher(settings: settings)
        let a = try write("a", bytes: 10, seed: 1), b = try write("b", bytes: 10, seed: 2), c = try write("c", bytes: 10, seed: 3)
        for path in [a, b, a, c] { _ = try hash(hasher, HashRequest(path: path)) }  // a hit; c evicts b
        XCTAssertEqual(hasher.counters.hashed, 3)
        XCTAssertTrue(try hash(hasher, HashRequest(path: a)).fromCache)
        XCTAssertFalse(try hash(hasher, HashRequest(path: b)).fromCache)
    }

    func testTooBigEmptyMissingAndNotRegular() throws {
        var settings = FileHasherSettings()
        settings.maxFileSize = 1000
        let hasher = FileHasher(settings: settings)
        let big = try write("big", bytes: 2000)
        var result = try hash(hasher, HashRequest(path: big))
        XCTAssertEqual(result.state, .fileTooBig)
        XCTAssertEqual(result.hashes, [])
        // A rule's max_file_size raises the limit.
        result = try hash(hasher, HashRequest(path: big, maxFileSize: 4096))
        XCTAssertEqual(result.state, .done)

        result = try hash(hasher, HashRequest(path: try write("empty", bytes: 0)))
        XCTAssertEqual(result.state, .fileEmpty)
        result = try hash(hasher, HashRequest(path: scratch.appendingPathComponent("missing").path))
        XCTAssertEqual(result.state, .fileNotFound)
        XCTAssertEqual(result.detail, "ENOENT")
        result = try hash(hasher, HashRequest(path: "relative/path"))
        XCTAssertEqual(result.state, .pathnameResolutionError)
        result = try hash(hasher, HashRequest(file: FileInfo(path: big, pathResolutionError: "truncated"), pid: nil, inContainer: false))
        XCTAssertEqual(result.state, .pathnameResolutionError)

        // A FIFO with no writer: answered at once (never blocks the worker), no hashes, as Datadog.
        let fifo = scratch.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        result = try hash(hasher, HashRequest(path: fifo))
        XCTAssertEqual(result.state, .done)
        XCTAssertEqual(result.hashes, [])
        XCTAssertEqual(result.detail, "not a regular file")

        let c = hasher.counters
        XCTAssertEqual(c.tooBig, 1)
        XCTAssertEqual(c.empty, 1)
        XCTAssertEqual(c.notFound, 1)
        XCTAssertEqual(c.errors, 2)
        XCTAssertEqual(c.submitted, 7)
    }

    func testFileChangedSinceTheEvent() throws {
        let path = try write("changing", bytes: 5000)
        let st = try fileStat(path)
        let hasher = FileHasher()
        var result = try hash(hasher, HashRequest(path: path, inode: UInt64(st.st_ino) + 1))
        XCTAssertEqual(result.state, .fileChanged)
        XCTAssertTrue(result.detail?.hasPrefix("inode") == true, result.detail ?? "")
        result = try hash(hasher, HashRequest(path: path, inode: UInt64(st.st_ino), size: 4999))
        XCTAssertEqual(result.state, .fileChanged)
        result = try hash(hasher, HashRequest(path: path, modificationTimeNs: 1))
        XCTAssertEqual(result.state, .fileChanged)
        // Replaced by another file at the same path since the event.
        let mtime = UInt64(st.st_mtim.tv_sec) * 1_000_000_000 + UInt64(st.st_mtim.tv_nsec)
        XCTAssertEqual(rename(try write("replacement", bytes: 5000, seed: 9), path), 0)
        result = try hash(hasher, HashRequest(path: path, inode: UInt64(st.st_ino), size: 5000, modificationTimeNs: mtime))
        XCTAssertEqual(result.state, .fileChanged)
        // Replaced by a symbolic link: not followed.
        XCTAssertEqual(unlink(path), 0)
        XCTAssertEqual(symlink(try write("target", bytes: 10), path), 0)
        result = try hash(hasher, HashRequest(path: path))
        XCTAssertEqual(result.state, .fileChanged)
        XCTAssertEqual(hasher.counters.changed, 5)
        XCTAssertEqual(hasher.counters.hashed, 0)
    }

    func testOpensThroughTheProcessRoot() throws {
        let path = try write("rooted", bytes: 4000)
        var settings = FileHasherSettings()
        let hasher = FileHasher(settings: settings)
        var result = try hash(hasher, HashRequest(path: path, pid: UInt32(getpid()), algorithms: [.sha256]))
        XCTAssertEqual(result.hashes, [try coreutils(.sha256, path)])

        // An exited process: its root is gone; the host path is used only when allowed.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        XCTAssertEqual(posix_spawn(&pid, "/bin/true", nil, nil, argv, environ), 0)
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, 0), pid)
        settings.cacheCapacity = 0
        let uncached = FileHasher(settings: settings)
        result = try hash(uncached, HashRequest(path: path, pid: UInt32(pid), algorithms: [.sha256], hostPathFallback: true))
        XCTAssertEqual(result.state, .done)
        XCTAssertEqual(result.hashes, [try coreutils(.sha256, path)])
        result = try hash(uncached, HashRequest(path: path, pid: UInt32(pid), algorithms: [.sha256], hostPathFallback: false))
        XCTAssertEqual(result.state, .fileNotFound)

        // A procfs root that does not hold the file: missing, not a fallback.
        result = try hash(uncached, HashRequest(path: scratch.appendingPathComponent("nope").path, pid: UInt32(getpid())))
        XCTAssertEqual(result.state, .fileNotFound)
    }

    func testTimeBudget() throws {
        var settings = FileHasherSettings()
        settings.timeBudgetNs = 1
        settings.readChunk = 4096
        let hasher = FileHasher(settings: settings)
        let result = try hash(hasher, HashRequest(path: try write("slow", bytes: 100_000)))
        XCTAssertEqual(result.state, .hashFailed)
        XCTAssertTrue(result.detail?.contains("time budget") == true, result.detail ?? "")
    }

    func testFullQueueIsRateLimited() throws {
        var settings = FileHasherSettings()
        settings.queueCapacity = 1
        settings.maxFileSize = 64 << 20
        let hasher = FileHasher(settings: settings)
        // A file that keeps the worker busy while the next requests arrive.
        let big = try write("big", bytes: 48 << 20)
        let small = try write("small", bytes: 100)
        let submissions = [big, small, small, small].map { hasher.submit(HashRequest(path: $0, algorithms: [.sha256, .sha1, .md5])) }
        let limited = submissions.compactMap(\.immediate)
        XCTAssertFalse(limited.isEmpty)
        XCTAssertTrue(limited.allSatisfy { $0.state == .rateLimited && $0.hashes.isEmpty })
        XCTAssertEqual(hasher.counters.rateLimited, limited.count)
        XCTAssertTrue(hasher.waitForOutstanding(timeoutNs: 30_000_000_000))
        // Every ticket answered exactly once, the immediate ones by submit only.
        let completed = hasher.takeCompleted()
        XCTAssertEqual(completed.count + limited.count, submissions.count)
        XCTAssertEqual(Set(completed.map { $0.ticket }).union(submissions.filter { $0.immediate != nil }.map(\.ticket)),
                       Set(submissions.map(\.ticket)))
        XCTAssertTrue(completed.allSatisfy { $0.result.state == .done })
        XCTAssertEqual(hasher.takeCompleted().count, 0)
    }

    func testCancelPendingAnswersEveryTicket() throws {
        var settings = FileHasherSettings()
        settings.maxFileSize = 64 << 20
        let hasher = FileHasher(settings: settings)
        let big = try write("big", bytes: 32 << 20)
        let tickets = (0..<4).map { _ in hasher.submit(HashRequest(path: big, algorithms: [.sha256, .sha1, .md5])).ticket }
        hasher.cancelPending()
        XCTAssertTrue(hasher.waitForOutstanding(timeoutNs: 30_000_000_000))
        let completed = hasher.takeCompleted()
        XCTAssertEqual(Set(completed.map { $0.ticket }), Set(tickets))
        XCTAssertTrue(completed.contains { $0.result.state == .hashFailed })
        XCTAssertEqual(hasher.submit(HashRequest(path: big)).immediate?.state, .hashFailed)
    }
}
