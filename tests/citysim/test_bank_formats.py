"""The city-year's bank result files are long GBK files: the format is still detected."""
from __future__ import annotations

import pytest

from payments.importers import CSV, RESULTS, detect, parse

HEADER = "支付凭证号,付款账号,付款户名,收款账号,收款户名,收款行,金额,交易状态,银行流水号,交易时间,失败原因"
ROW = ("ZF2026010001,44030100040012345,深圳市财政局零余额账户,6222020200112233445,"
       "深圳市某科技有限公司,中国银行深圳分行,\"1,234.56\",成功,BK1,2026-01-14 11:00:00,")


def head_splits_a_character(content: bytes) -> bool:
    try:
        content[:4096].decode("gbk")
    except UnicodeDecodeError:
        return True
    return False


class TestDetect:
    def test_a_gbk_result_file_cut_mid_character_by_the_sniffed_head_is_detected(self):
        base = "\r\n".join([HEADER] + [ROW] * 40).encode("gbk")
        shifted = (base.replace(b"BK1,", b"BK1" + b"0" * pad + b",", 1) for pad in range(120))
        content = next((c for c in shifted if head_splits_a_character(c)), None)
        if content is None:
            pytest.fail("the fixture should cut a GBK character at byte 4,096")
        assert detect(content) == CSV
        rows = parse(content, "cut.csv", CSV)
        assert (rows.format, len(rows.results), rows.issues) == (RESULTS, 40, [])
