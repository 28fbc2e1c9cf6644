/// An axis-aligned rectangle in frame pixels, top-left origin.
public struct PixelBox: Sendable, Hashable, Codable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var area: Int { max(0, width) * max(0, height) }
    public var centerX: Double { Double(x) + Double(width) / 2 }
    public var centerY: Double { Double(y) + Double(height) / 2 }

    /// The overlap of two boxes (zero-sized when they do not meet).
    public func intersection(_ other: PixelBox) -> PixelBox {
        let x0 = max(x, other.x), y0 = max(y, other.y)
        let x1 = min(maxX, other.maxX), y1 = min(maxY, other.maxY)
        return PixelBox(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }

    /// The smallest box holding both.
    public func union(_ other: PixelBox) -> PixelBox {
        let x0 = min(x, other.x), y0 = min(y, other.y)
        return PixelBox(x: x0, y: y0, width: max(maxX, other.maxX) - x0, height: max(maxY, other.maxY) - y0)
    }

    /// Intersection over union, 0...1.
    public func iou(_ other: PixelBox) -> Double {
        let inter = intersection(other).area
        let uni = area + other.area - inter
        return uni > 0 ? Double(inter) / Double(uni) : 0
    }

    public func clipped(toWidth w: Int, height h: Int) -> PixelBox {
        let x0 = min(max(x, 0), w), y0 = min(max(y, 0), h)
        let x1 = min(max(maxX, 0), w), y1 = min(max(maxY, 0), h)
        return PixelBox(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// Whether the point lies inside (left and top edges included).
    public func contains(x px: Int, y py: Int) -> Bool {
        px >= x && px < maxX && py >= y && py < maxY
    }

    /// The same box moved by (dx, dy).
    public func offsetBy(dx: Int, dy: Int) -> PixelBox {
        PixelBox(x: x + dx, y: y + dy, width: width, height: height)
    }

    /// Grown by the given margins on each side (negative shrinks).
    public func expanded(dx: Int, dy: Int) -> PixelBox {
        PixelBox(x: x - dx, y: y - dy, width: width + 2 * dx, height: height + 2 * dy)
    }
}
