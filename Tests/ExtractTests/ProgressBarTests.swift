import XCTest

@testable import extract

/// The CLI's progress line (moved here with ProgressBar from WeightLoader).
final class ProgressBarTests: XCTestCase {
    func testProgressBarRendering() {
        let bytes = ProgressBar(title: "resnet50.h5", total: 94_700_000, interactive: false, width: 10)
        XCTAssertEqual(
            bytes.render(45_100_000, rate: 12_300_000),
            "resnet50.h5 [####......] 45.1 MB / 94.7 MB  12.3 MB/s  ETA 0:04")
        XCTAssertEqual(bytes.render(94_700_000, rate: nil), "resnet50.h5 [##########] 94.7 MB / 94.7 MB")
        let unknown = ProgressBar(title: "x", interactive: false)
        XCTAssertEqual(unknown.render(999, rate: nil), "x 999 B")
        let images = ProgressBar(
            title: "images", total: 1000, format: ProgressBar.items("images"), interactive: false, width: 10)
        XCTAssertEqual(
            images.render(120, rate: 35.4), "images [#.........] 120 images / 1000 images  35 images/s  ETA 0:25")
        XCTAssertEqual(ProgressBar.duration(3723), "1:02:03")
    }
}
