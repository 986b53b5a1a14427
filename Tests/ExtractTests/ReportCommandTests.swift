import FeatureFiles
import Foundation
import Images
import TestSupport
import XCTest

/// `extract report` opened in a real headless Chromium (Debian's, installed by the test set-up):
/// the page renders with one point per image, the confusion matrix and the misclassified
/// thumbnails, and a screenshot of it is not blank.
final class ReportCommandTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func chromium(_ arguments: [String]) throws -> CommandResult {
        // No sandbox: the tests may run as root; no GPU on these machines.
        try runProcess(
            URL(fileURLWithPath: "/usr/bin/chromium"),
            ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"] + arguments)
    }

    func testReportOpensInChromium() throws {
        let w = "heads/workflow"
        let feats = tmp.appendingPathComponent("feats.npy").path
        XCTAssertEqual(
            try runExtract(
                [
                    "--weights", Fixtures.path("full/mobilenet_v2_0.35_96_k3_full.h5"), "--layer", "Conv1_relu",
                    "--pooling", "avg", Fixtures.path("\(w)/train"), "-o", feats, "--quiet",
                ]
            ).status, 0)
        let head = tmp.appendingPathComponent("head.json").path
        XCTAssertEqual(try runExtract(["fit", feats, "-o", head]).status, 0)
        let page = tmp.appendingPathComponent("report.html").path
        let r = try runExtract(["report", feats, "--head", head, "-o", page])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try FeatureFile.read(feats).count

        let dom = try chromium(["--dump-dom", "file://\(page)"])
        XCTAssertEqual(dom.status, 0, dom.stderr)
        XCTAssertEqual(dom.stdout.components(separatedBy: "<circle").count - 1, rows, "one point per image")
        XCTAssertTrue(dom.stdout.contains("id=\"confusion\""))
        XCTAssertTrue(dom.stdout.contains("Most confidently misclassified"))
        XCTAssertTrue(dom.stdout.contains("data:image/bmp;base64,"), "thumbnails inline")

        let shot = tmp.appendingPathComponent("shot.png").path
        let s = try chromium(["--screenshot=\(shot)", "--window-size=1000,1400", "file://\(page)"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let image = try ImageDecoder.decode(path: shot)
        XCTAssertEqual(image.width, 1000)
        // Not blank: many colours, and the scatter's coloured points among them.
        var colours = Set<Int>()
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            colours.insert(Int(image.pixels[i]) << 16 | Int(image.pixels[i + 1]) << 8 | Int(image.pixels[i + 2]))
        }
        XCTAssertGreaterThan(colours.count, 50, "a blank or nearly blank screenshot")
        XCTAssertTrue(colours.contains(0x4e79a7) || colours.count > 200, "the first class's colour")
    }
}
