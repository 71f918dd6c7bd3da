"""The classifications' international counterparts, keyed by 类 (the first three digits):
function classes (支出功能分类) to COFOG divisions (UN Classification of the Functions of
Government, 01–10), economic classes (部门预算支出经济分类 3xx and 政府预算支出经济分类
5xx) to the GFS expense classes of the IMF GFSM 2014 (Table 6.1: 21–28) or 31 (net
acquisition of nonfinancial assets, Table 8). Vocabulary, defined once here: the open
data (reports.opendata) and anything else that compares with other countries read it.

A 类 is mapped as a whole (the division its spending mostly belongs to); 款-level
refinements (e.g. 20106 财政事务 is COFOG 01.1, 2060201 基础研究 01.4) are not drawn.
Debt principal (512 债务还本支出, 231 债务还本支出) is financing, not expense: GFS has
no expense class for it (`gfs_of` answers "" for it)."""
from __future__ import annotations

# COFOG divisions: code → (English, 中文)
COFOG_DIVISIONS: dict[str, tuple[str, str]] = {
    "01": ("General public services", "一般公共服务"),
    "02": ("Defence", "国防"),
    "03": ("Public order and safety", "公共秩序和安全"),
    "04": ("Economic affairs", "经济事务"),
    "05": ("Environmental protection", "环境保护"),
    "06": ("Housing and community amenities", "住房和社区设施"),
    "07": ("Health", "卫生"),
    "08": ("Recreation, culture and religion", "娱乐、文化和宗教"),
    "09": ("Education", "教育"),
    "10": ("Social protection", "社会保护"),
}

# 支出功能分类 类 → COFOG division
FUNCTION_TO_COFOG: dict[str, str] = {
    "201": "01",  # 一般公共服务支出
    "202": "01",  # 外交支出 (01.1 executive and legislative organs, external affairs)
    "203": "02",  # 国防支出
    "204": "03",  # 公共安全支出
    "205": "09",  # 教育支出
    "206": "01",  # 科学技术支出 (01.4 basic research; applied R&D is not split out)
    "207": "08",  # 文化旅游体育与传媒支出
    "208": "10",  # 社会保障和就业支出
    "209": "10",  # 社会保险基金支出
    "210": "07",  # 卫生健康支出
    "211": "05",  # 节能环保支出
    "212": "06",  # 城乡社区支出
    "213": "04",  # 农林水支出 (04.2)
    "214": "04",  # 交通运输支出 (04.5)
    "215": "04",  # 资源勘探工业信息等支出
    "216": "04",  # 商业服务业等支出
    "217": "04",  # 金融支出 (04.1 general economic affairs)
    "219": "01",  # 援助其他地区支出 (01.8 transfers between levels of government)
    "220": "04",  # 自然资源海洋气象等支出
    "221": "06",  # 住房保障支出 (06.1 housing development)
    "222": "04",  # 粮油物资储备支出 (04.2)
    "223": "04",  # 国有资本经营预算支出
    "224": "03",  # 灾害防治及应急管理支出 (03.2 fire protection services)
    "227": "01",  # 预备费
    "229": "01",  # 其他支出
    "230": "01",  # 转移性支出 (01.8)
    "231": "01",  # 债务还本支出 (01.7 public debt transactions)
    "232": "01",  # 债务付息支出 (01.7)
    "233": "01",  # 债务发行费用支出 (01.7)
    "234": "07",  # 抗疫特别国债安排的支出 (07 health)
}

# GFS (GFSM 2014) expense classes and 31: code → (English, 中文)
GFS_CLASSES: dict[str, tuple[str, str]] = {
    "21": ("Compensation of employees", "雇员报酬"),
    "22": ("Use of goods and services", "商品和服务的使用"),
    "23": ("Consumption of fixed capital", "固定资本消耗"),
    "24": ("Interest", "利息"),
    "25": ("Subsidies", "补贴"),
    "26": ("Grants", "赠与"),
    "27": ("Social benefits", "社会福利"),
    "28": ("Other expense", "其他费用"),
    "31": ("Net acquisition of nonfinancial assets", "非金融资产净获得"),
}

# 支出经济分类 类 (部门 3xx, 政府 5xx) → GFS class ("" : financing, no expense class)
ECONOMIC_TO_GFS: dict[str, str] = {
    # 部门预算支出经济分类
    "301": "21",  # 工资福利支出
    "302": "22",  # 商品和服务支出
    "303": "27",  # 对个人和家庭的补助
    "307": "24",  # 债务利息及费用支出
    "309": "31",  # 资本性支出（基本建设）
    "310": "31",  # 资本性支出
    "311": "28",  # 对企业补助（基本建设）: capital transfers (GFS 282)
    "312": "25",  # 对企业补助
    "313": "26",  # 对社会保障基金补助 (grants to other general government units)
    "399": "28",  # 其他支出
    # 政府预算支出经济分类
    "501": "21",  # 机关工资福利支出
    "502": "22",  # 机关商品和服务支出
    "503": "31",  # 机关资本性支出（一）
    "504": "31",  # 机关资本性支出（二）
    "505": "26",  # 对事业单位经常性补助
    "506": "26",  # 对事业单位资本性补助
    "507": "25",  # 对企业补助
    "508": "28",  # 对企业资本性支出 (capital transfers)
    "509": "27",  # 对个人和家庭的补助
    "510": "26",  # 对社会保障基金补助
    "511": "24",  # 债务利息及费用支出
    "512": "",    # 债务还本支出: financing (GFS 33), not an expense
    "513": "26",  # 转移性支出
    "514": "28",  # 预备费及预留
    "599": "28",  # 其他支出
}


def cofog_of(function_code: str) -> str:
    """The COFOG division of a function code of any level ("" when unknown or blank)."""
    return FUNCTION_TO_COFOG.get((function_code or "")[:3], "")


def gfs_of(economic_code: str) -> str:
    """The GFS class of an economic code of any level ("" when unknown, blank or financing)."""
    return ECONOMIC_TO_GFS.get((economic_code or "")[:3], "")


def cofog_label(division: str, *, lang: str = "zh") -> str:
    names = COFOG_DIVISIONS.get(division)
    return "" if names is None else names[1 if lang == "zh" else 0]


def gfs_label(code: str, *, lang: str = "zh") -> str:
    names = GFS_CLASSES.get(code)
    return "" if names is None else names[1 if lang == "zh" else 0]
