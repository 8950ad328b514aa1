//! The roster's columns (Chinese headers, English aliases) and the labels of enumerated values.

use sync_protocol::schema::{Collection, FieldDef};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Resident(&'static str),
    House(&'static str),
    /// 房屋编号: names a house within the file, or an existing house by its record id.
    HouseCode,
    /// 现住址: an existing or file-defined house by its full address (import only).
    Address,
    /// 序号: row numbers some templates carry (ignored).
    Serial,
}

pub(super) struct Column {
    pub(super) target: Target,
    /// The header an export writes.
    pub(super) header: &'static str,
    /// Also accepted on import (the model's field name first).
    pub(super) aliases: &'static [&'static str],
}

pub(super) const fn c(target: Target, header: &'static str, aliases: &'static [&'static str]) -> Column {
    Column { target, header, aliases }
}

pub(super) use Target::{House as H, Resident as R};

/// The roster's columns, in export order.
pub(super) const COLUMNS: &[Column] = &[
    c(R("name"), "姓名", &["name"]),
    c(R("sex"), "性别", &["sex", "gender"]),
    c(R("birth_date"), "出生日期", &["birth_date", "出生年月日", "出生年月", "birthday", "date_of_birth"]),
    c(R("id_number"), "公民身份号码", &["id_number", "身份证号码", "身份证号", "身份证", "证件号码"]),
    c(R("phone"), "联系电话", &["phone", "手机号码", "手机号", "电话", "联系方式", "mobile"]),
    c(R("ethnicity"), "民族", &["ethnicity"]),
    c(R("categories"), "人员类别", &["categories", "人口类别", "人员类型"]),
    c(R("relation"), "与户主关系", &["relation"]),
    c(R("notes"), "备注", &["notes"]),
    c(R("archived_reason"), "注销原因", &["archived_reason"]),
    c(R("archived_on"), "注销日期", &["archived_on"]),
    c(Target::HouseCode, "房屋编号", &["house_code", "house_id", "房屋编码"]),
    c(H("township"), "乡镇（街道）", &["township", "乡镇", "镇（街道）", "镇街", "街道"]),
    c(H("village"), "村（社区）", &["village", "村", "社区", "村居"]),
    c(H("street"), "街路巷", &["street", "街道/胡同", "街巷", "胡同"]),
    c(H("building"), "楼栋", &["building", "楼号", "楼栋号", "栋"]),
    c(H("unit"), "单元", &["unit", "单元号"]),
    c(H("floor"), "楼层", &["floor", "层"]),
    c(H("door"), "门牌号", &["door", "门牌", "门牌号码", "户号", "室"]),
    c(H("structure"), "房屋结构", &["structure", "结构"]),
    c(H("area"), "建筑面积", &["area", "面积", "面积（㎡）", "建筑面积（㎡）", "建筑面积（平方米）"]),
    c(H("use"), "房屋用途", &["use", "用途"]),
    c(H("owner"), "房主", &["owner", "产权人", "房屋所有人"]),
    c(H("rented"), "是否出租", &["rented", "出租房", "是否出租房", "出租"]),
    c(H("hazards"), "安全隐患", &["hazards", "隐患"]),
    c(H("lat"), "纬度", &["lat", "latitude"]),
    c(H("lng"), "经度", &["lng", "longitude", "lon"]),
    c(H("archived_reason"), "房屋注销原因", &["house_archived_reason"]),
    c(H("archived_on"), "房屋注销日期", &["house_archived_on"]),
    c(Target::Address, "现住址", &["address", "居住地址", "住址", "现居住地址"]),
    c(Target::Serial, "序号", &["no", "serial", "编号"]),
];

/// Columns an export writes (现住址 and 序号 are read only).
pub(super) fn exported(c: &Column) -> bool {
    !matches!(c.target, Target::Address | Target::Serial)
}

/// Code → labels; the first label is the one an export writes. Labels follow the field app.
pub(super) type Labels = &'static [(&'static str, &'static [&'static str])];

pub(super) const SEX_LABELS: Labels = &[("male", &["男", "男性"]), ("female", &["女", "女性"])];
pub(super) const CATEGORY_LABELS: Labels = &[
    ("registered", &["户籍人口", "户籍"]),
    ("floating", &["流动人口", "流动"]),
    ("overseas", &["境外人员", "境外"]),
    ("left_behind_elderly", &["留守老人"]),
    ("left_behind_women", &["留守妇女"]),
    ("left_behind_children", &["留守儿童"]),
    ("living_alone", &["独居/空巢老人", "独居老人", "空巢老人", "独居", "空巢"]),
    ("disabled", &["残疾人"]),
    ("low_income", &["低保户", "低保"]),
    ("key_person", &["重点人员"]),
    ("veteran", &["退役军人"]),
];
pub(super) const RELATION_LABELS: Labels = &[
    ("head", &["户主", "本人"]),
    ("spouse", &["配偶", "妻", "夫", "妻子", "丈夫"]),
    ("child", &["子女", "子", "女", "儿子", "女儿"]),
    ("parent", &["父母", "父亲", "母亲"]),
    ("grandchild", &["孙子女", "孙子", "孙女", "外孙子", "外孙女"]),
    ("grandparent", &["祖父母", "祖父", "祖母"]),
    ("sibling", &["兄弟姐妹", "兄", "弟", "姐", "妹"]),
    ("tenant", &["租户", "租客"]),
    ("other", &["其他"]),
];
pub(super) const RESIDENT_ARCHIVE_LABELS: Labels =
    &[("moved_away", &["迁出"]), ("deceased", &["死亡"]), ("duplicate", &["重复登记"]), ("other", &["其他"])];
pub(super) const HOUSE_ARCHIVE_LABELS: Labels =
    &[("demolished", &["拆除"]), ("merged", &["合并"]), ("duplicate", &["重复登记"]), ("other", &["其他"])];
pub(super) const STRUCTURE_LABELS: Labels = &[
    ("brick_concrete", &["砖混", "砖混结构"]),
    ("reinforced_concrete", &["钢混", "钢筋混凝土", "框架"]),
    ("brick_wood", &["砖木", "砖木结构"]),
    ("earth_wood", &["土木", "土木结构"]),
    ("steel", &["钢结构"]),
    ("other", &["其他"]),
];
pub(super) const USE_LABELS: Labels = &[
    ("residential", &["自住", "住宅", "居住"]),
    ("commercial", &["经营", "商用"]),
    ("mixed", &["住经混合", "商住"]),
    ("vacant", &["空置"]),
    ("other", &["其他"]),
];

pub(super) fn labels_of(target: Target) -> Labels {
    match target {
        R("sex") => SEX_LABELS,
        R("categories") => CATEGORY_LABELS,
        R("relation") => RELATION_LABELS,
        R("archived_reason") => RESIDENT_ARCHIVE_LABELS,
        H("archived_reason") => HOUSE_ARCHIVE_LABELS,
        H("structure") => STRUCTURE_LABELS,
        H("use") => USE_LABELS,
        _ => &[],
    }
}

pub(super) fn label_to_code(labels: Labels, text: &str) -> Option<&'static str> {
    let t = text.trim();
    labels.iter().find(|(code, names)| code.eq_ignore_ascii_case(t) || names.contains(&t)).map(|(code, _)| *code)
}

pub(super) fn code_to_label(labels: Labels, code: &str) -> String {
    labels.iter().find(|(c, _)| *c == code).map_or_else(|| code.to_string(), |(_, names)| names[0].to_string())
}

pub(super) fn field_def(target: Target) -> Option<&'static FieldDef> {
    match target {
        R(f) => Collection::Residents.field(f),
        H(f) => Collection::Houses.field(f),
        _ => None,
    }
}

/// Headers compare without spaces, `*` marks of required columns, BOMs, case, or the width of
/// brackets.
pub(super) fn norm_header(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '*' | '＊' | '\u{feff}'))
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

pub(super) fn column_for(header: &str) -> Option<usize> {
    let h = norm_header(header);
    if h.is_empty() {
        return None;
    }
    COLUMNS.iter().position(|c| norm_header(c.header) == h || c.aliases.iter().any(|a| norm_header(a) == h))
}

pub(super) fn col_index(target: Target) -> usize {
    COLUMNS.iter().position(|c| c.target == target).expect("every target has a column")
}

impl Column {
    pub(super) fn target_name(&self) -> &'static str {
        match self.target {
            R(f) | H(f) => f,
            _ => "",
        }
    }
}
