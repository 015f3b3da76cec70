import Foundation
import Reporting
import Testing

/// Renders reports in headless Chromium (Debian's `chromium` or `chromium-headless-shell`).
enum Chromium {
    static let candidates = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "headless_shell"]

    /// The first Chromium binary on PATH, or nil (also when BFTSIM_NO_CHROMIUM is set).
    static var binary: String? {
        if ProcessInfo.processInfo.environment["BFTSIM_NO_CHROMIUM"] != nil { return nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in candidates {
            for dir in path.split(separator: ":") {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }

    /// Screenshots `html` (a file) at `width`×`height`; returns the PNG bytes.
    static func screenshot(_ binary: String, html: String, png: String, width: Int, height: Int) throws -> Data {
        try? FileManager.default.removeItem(atPath: png)
        let profile = "\(NSTemporaryDirectory())/bftsim-chromium-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        var args = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    "--user-data-dir=\(profile)",
                    "--screenshot=\(png)", "--window-size=\(width),\(height)", "file://\(html)"]
        var exe = binary
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/timeout") {
            args = ["120", binary] + args
            exe = "/usr/bin/timeout"
        }
        let r = try Fixture.run(exe, args, in: NSTemporaryDirectory())
        guard let data = FileManager.default.contents(atPath: png) else {
            throw ReportError(file: png, "Chromium wrote no screenshot (exit \(r.status)): \(r.err.suffix(400))")
        }
        return data
    }

    /// Width and height from a PNG's IHDR chunk.
    static func pngSize(_ data: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
              bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        func be(_ k: Int) -> Int { bytes[k..<(k + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }
}

@Suite("Report in a browser")
struct ChromiumTests {
    @Test("the HTML report renders in headless Chromium to a non-blank PNG of the expected size",
          .enabled(if: Chromium.binary != nil, "no Chromium on PATH (or BFTSIM_NO_CHROMIUM set); scripts/setup.sh installs chromium-headless-shell"))
    func rendersInChromium() throws {
        // Proves a real browser draws the page: the screenshot has the requested dimensions and holds
        // far more than a blank page of the same size compresses to.
        guard let chromium = Chromium.binary else {
            print("SKIPPED rendersInChromium: no Chromium on PATH (tried \(Chromium.candidates.joined(separator: ", ")), or BFTSIM_NO_CHROMIUM is set); scripts/setup.sh installs chromium-headless-shell")
            return
        }
        let dir = try Fixture.primaryCrash()
        let page = dir + "/report.html"
        try Reports.write(directory: dir, format: .html, to: page)
        let blankPage = Fixture.temporaryDirectory("blank") + "/blank.html"
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: blankPage, atomically: true, encoding: .utf8)

        let (w, h) = (1200, 1800)
        let png = try Chromium.screenshot(chromium, html: page, png: dir + "/report.png", width: w, height: h)
        let blank = try Chromium.screenshot(chromium, html: blankPage, png: dir + "/blank.png", width: w, height: h)
        let size = try #require(Chromium.pngSize(png), "not a PNG")
        #expect(size.width == w && size.height == h, "screenshot is \(size.width)×\(size.height)")
        #expect(Chromium.pngSize(blank)?.width == w)
        #expect(png.count > 20_000, "screenshot is only \(png.count) bytes")
        #expect(png.count > 10 * blank.count, "report \(png.count) bytes vs blank \(blank.count) bytes")
    }
}
