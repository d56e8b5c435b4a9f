// FleetTests: topology parsing and refusals, summary and report generation (see the other files).
import XCTest
