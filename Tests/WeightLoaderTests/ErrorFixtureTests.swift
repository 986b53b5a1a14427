import Foundation
import TestSupport
import XCTest

@testable import WeightLoader

/// Each damaged or foreign file gives its own typed error, whose one line names the file and
/// the facts a user needs (counts, layer, array, shapes, dtype).
final class ErrorFixtureTests: XCTestCase {
    let arch = "MobileNetV2_0.35"

    func error(for fixture: String) -> WeightLoaderError? {
        let path = Fixtures.path(fixture)
        do {
            let file = try KerasWeightFile.open(path)
            _ = try Binder.bind(file, to: ArchitectureCatalog.architecture(arch))
            XCTFail("\(fixture) loaded without error")
            return nil
        } catch let e as WeightLoaderError {
            let line = e.description
            XCTAssertTrue(line.hasPrefix(path), "\(fixture): message should start with the path: \(line)")
            XCTAssertFalse(line.contains("\n"), "\(fixture): one line")
            return e
        } catch {
            XCTFail("\(fixture): untyped error \(error)")
            return nil
        }
    }

    func testNotHDF5() {
        guard case .notHDF5 = error(for: "bad/not_hdf5.h5") else { return XCTFail("not_hdf5") }
    }

    func testEmpty() {
        guard case .emptyFile = error(for: "bad/empty.h5") else { return XCTFail("empty") }
    }

    func testTruncated() {
        switch error(for: "bad/truncated.h5") {
        case .truncated?, .damaged?: break
        case let other: XCTFail("truncated gave \(String(describing: other))")
        }
    }

    func testUnknownLayout() {
        guard case .unknownLayout = error(for: "bad/unknown_layout.h5") else { return XCTFail("unknown layout") }
    }

    func testLayerCountMismatchNamesBothCountsAndTheFirstDifference() throws {
        let detail = try Self.detail("bad/layer_count.h5")
        let e = error(for: "bad/layer_count.h5")
        guard case .layerCountMismatch(_, let a, let expected, let actual, _, let layer, _)? = e else {
            return XCTFail("layer count")
        }
        XCTAssertEqual(a, arch)
        XCTAssertEqual(expected, 104)
        XCTAssertEqual(actual, 103)
        // The fixture drops the last weighted layer, so the first difference is that one.
        XCTAssertEqual(layer, detail["layer"] as? String)
        XCTAssertTrue(e?.description.contains("104") ?? false)
        XCTAssertTrue(e?.description.contains("103") ?? false)
    }

    func testShapeMismatchNamesLayerArrayAndShapes() throws {
        let detail = try Self.detail("bad/shape_mismatch.h5")
        guard
            case .shapeMismatch(_, let layer, let array, let expected, let actual)? = error(
                for: "bad/shape_mismatch.h5")
        else {
            return XCTFail("shape mismatch")
        }
        XCTAssertEqual(layer, detail["layer"] as? String)
        XCTAssertEqual(array, detail["array"] as? String)
        XCTAssertEqual(expected, detail["expected_shape"] as? [Int])
        XCTAssertEqual(actual, detail["actual_shape"] as? [Int])
    }

    func testUnsupportedDType() throws {
        guard case .unsupportedDType(_, let dataset, _)? = error(for: "bad/unsupported_dtype.h5") else {
            return XCTFail("dtype")
        }
        let detail = try Self.detail("bad/unsupported_dtype.h5")
        if let array = detail["array"] as? String { XCTAssertTrue(dataset.hasSuffix(array), "\(dataset) vs \(array)") }
    }

    func testMissingFile() {
        XCTAssertThrowsError(try KerasWeightFile.open("/nonexistent/x.h5")) {
            XCTAssertEqual($0 as? WeightLoaderError, .fileNotFound(path: "/nonexistent/x.h5"))
        }
    }

    /// `error_detail` of a fixture, straight from expectations.json.
    static func detail(_ fixture: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("expectations.json"))
        let root = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let fixtures = root?["fixtures"] as? [String: Any]
        return (fixtures?[fixture] as? [String: Any])?["error_detail"] as? [String: Any] ?? [:]
    }
}
