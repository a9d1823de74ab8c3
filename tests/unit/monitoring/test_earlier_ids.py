from modelops.monitoring.earlier_ids import months_before


def test_months_before_cross_the_year():
    assert months_before("2025-02", 3) == ["2025-01", "2024-12", "2024-11"]
    assert months_before("2025-02", 0) == []
