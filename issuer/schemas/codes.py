"""Reference code lists used by the licence schemas.

Sources: GB 3304 (names of ethnic groups), GB/T 2260 (province codes),
《机动车驾驶证申领和使用规定》 (2022, 准驾车型), GA 36-2018 (plates),
GA 802 (vehicle types), GA 24 (use character), GB/T 4761 (family relationship).
"""

from __future__ import annotations

# The 56 officially recognised ethnic groups, in GB 3304 code order.
ETHNIC_GROUPS: tuple[str, ...] = (
    "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族",
    "布依族", "朝鲜族", "满族", "侗族", "瑶族", "白族", "土家族", "哈尼族",
    "哈萨克族", "傣族", "黎族", "傈僳族", "佤族", "畲族", "高山族", "拉祜族",
    "水族", "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族", "达斡尔族",
    "仫佬族", "羌族", "布朗族", "撒拉族", "毛南族", "仡佬族", "锡伯族",
    "阿昌族", "普米族", "塔吉克族", "怒族", "乌孜别克族", "俄罗斯族",
    "鄂温克族", "德昂族", "保安族", "裕固族", "京族", "塔塔尔族", "独龙族",
    "鄂伦春族", "赫哲族", "门巴族", "珞巴族", "基诺族",
)
assert len(ETHNIC_GROUPS) == 56 and len(set(ETHNIC_GROUPS)) == 56

# 准驾车型 codes (2022 edition of the regulation, which added C6).
DRIVING_CLASSES: tuple[str, ...] = (
    "A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6",
    "D", "E", "F", "M", "N", "P",
)

# Minimum age when a class is obtained (Art. 13 of the 2022 regulation):
# A1/A2 22; A3, B1, B2, C6 (light trailer), N, P 20; all others 18.
CLASS_MIN_AGE: dict[str, int] = {c: 18 for c in DRIVING_CLASSES}
CLASS_MIN_AGE.update({"A1": 22, "A2": 22, "A3": 20, "B1": 20, "B2": 20,
                      "C6": 20, "N": 20, "P": 20})

# First two digits of an ID number (GB/T 2260 province-level codes).
# 83 is used by residence permits of Taiwan residents (港澳台居民居住证).
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)] + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)] + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)] + [str(n) for n in range(61, 66)]
    + ["71", "81", "82", "83"]
)
# Codes whose remaining four digits are not checked (HK, Macao, Taiwan).
SAR_CODES: frozenset[str] = frozenset({"71", "81", "82", "83"})

# Province abbreviations on motor-vehicle plates (GA 36-2018), 31 in all.
PLATE_PROVINCES: str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
assert len(PLATE_PROVINCES) == 31

SEXES: tuple[str, ...] = ("男", "女")
NATIONALITIES: tuple[str, ...] = ("中国",)
HOUSEHOLD_TYPES: tuple[str, ...] = ("家庭户", "集体户")
LONG_TERM = "长期"

# 户主或与户主关系 (after GB/T 4761 family-relationship codes).
RELATIONSHIPS: tuple[str, ...] = (
    "户主", "配偶", "子", "长子", "次子", "女", "长女", "次女",
    "儿媳", "女婿", "孙子", "孙女", "外孙子", "外孙女",
    "父亲", "母亲", "公公", "婆婆", "岳父", "岳母",
    "祖父", "祖母", "外祖父", "外祖母",
    "兄", "弟", "姐", "妹", "嫂", "弟媳", "姐夫", "妹夫",
    "侄子", "侄女", "外甥", "外甥女", "其他",
)

# 使用性质 on the vehicle licence (GA 24 list, plus the generic 营运).
USE_CHARACTERS: tuple[str, ...] = (
    "非营运", "营运", "公路客运", "公交客运", "出租客运", "旅游客运",
    "货运", "租赁", "警用", "消防", "救护", "工程救险", "营转非",
    "出租转非", "教练", "幼儿校车", "小学生校车", "中小学生校车",
    "其他校车", "危化品运输", "预约出租客运", "预约出租转非",
)

# 车辆类型 on the vehicle licence (common GA 802 names).
VEHICLE_TYPES: tuple[str, ...] = (
    "大型普通客车", "大型双层客车", "大型卧铺客车", "大型铰接客车",
    "大型越野客车", "中型普通客车", "中型越野客车", "小型普通客车",
    "小型越野客车", "小型轿车", "小型专用客车", "微型普通客车", "微型轿车",
    "重型普通货车", "重型厢式货车", "重型罐式货车", "重型自卸货车",
    "重型仓栅式货车", "重型半挂牵引车", "重型全挂牵引车",
    "中型普通货车", "中型厢式货车", "中型自卸货车", "中型半挂牵引车",
    "轻型普通货车", "轻型厢式货车", "轻型封闭货车", "轻型自卸货车",
    "轻型仓栅式货车", "微型普通货车", "微型厢式货车",
    "重型普通半挂车", "重型厢式半挂车", "重型罐式半挂车",
    "低速货车", "三轮汽车", "普通二轮摩托车", "普通三轮摩托车",
    "轻便二轮摩托车", "轻便三轮摩托车", "轮式专用机械车",
    "无轨电车", "有轨电车",
)

# E-bike body colours: one to three of these (GA 24.8 plus 银/橙/金/青),
# optionally followed by 色, or the word 其他.
COLOUR_CHARS: str = "白灰黄粉红紫绿蓝棕黑银橙金青"
