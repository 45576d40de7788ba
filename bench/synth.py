"""Invented but plausible records and leaders: the demo data and the benchmarks' input.

    python bench/synth.py DIR --records 10000 --leaders 150   # a synthetic repository
    python bench/synth.py --demo .                             # rewrite the shipped demo data

Every name and text is made up; the generator is seeded, so the same
arguments give the same files.
"""

from __future__ import annotations

import argparse
import datetime
import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from liaison.core.records import dump_record, new_record_id, record_path  # noqa: E402
from liaison.core.schema import Schema  # noqa: E402
from liaison.core.yamlio import dump_mapping  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢钟姜崔谭陆范汪廖石金贾夏韦付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤"
GIVEN = "建国明华敏伟静洋晓燕红军海涛文斌志强丽娟秀英玉兰桂芳春梅国庆宏伟立新永刚德胜振华俊杰慧琳雪梅思远嘉怡子涵浩然"
DEPARTMENTS = [
    ("学校领导", ["党委书记", "校长", "党委副书记", "副校长", "纪委书记"]),
    ("学生工作处", ["处长", "副处长"]),
    ("研究生院", ["院长", "副院长"]),
    ("教务处", ["处长", "副处长"]),
    ("团委", ["书记", "副书记"]),
    ("基础医学院", ["党委书记", "院长", "党委副书记"]),
    ("第一临床医学院", ["党委书记", "副院长", "党委副书记"]),
    ("公共卫生学院", ["党委书记", "副院长"]),
    ("药学院", ["党委书记", "副院长"]),
    ("护理学院", ["党委书记", "党委副书记"]),
    ("后勤保障处", ["处长", "副处长"]),
    ("图书馆", ["馆长", "副馆长"]),
]
TARGETS = [
    "国旗护卫队",
    "2023级临床医学1班",
    "2024级护理学2班",
    "学生会主席团",
    "研究生会",
    "青年志愿者协会",
    "家庭经济困难学生代表",
    "少数民族学生代表",
    "毕业班学生党员",
    "新生宿舍7号楼学生",
    "2022级药学专业学生",
    "留学生代表",
    "校史馆讲解队",
    "考研学生代表",
    "实验室助管学生",
    "心理委员",
    "学生社团负责人",
    "规培研究生代表",
]
PLACES = [
    "图书馆101会议室",
    "学生活动中心三楼",
    "行政楼208",
    "第一临床医学院示教室",
    "7号学生宿舍楼活动室",
    "食堂二楼教工餐厅",
    "田径场主席台",
    "研究生院会议室",
    "公共卫生学院302",
    "线上（腾讯会议）",
    "附属医院教学楼B座",
    "校史馆",
]
STUDENT_NAMES = [
    "刘晨",
    "王一凡",
    "阿依古丽·买买提",
    "陈思雨",
    "赵子豪",
    "李梦瑶",
    "孙浩",
    "周佳琪",
    "吴昊天",
    "马晓雪",
]
OPENINGS = [
    "以座谈会形式与同学们面对面交流，",
    "深入学生宿舍走访，",
    "参加班级主题班会，",
    "与学生代表共进午餐，边吃边聊，",
    "在实验室与同学们交流，",
    "召开专题座谈会，",
]
TOPICS = [
    "详细了解同学们的学习进度和课程安排，鼓励大家合理规划学业，打牢专业基础",
    "围绕就业形势和升学深造进行交流，介绍学校今年的就业指导和考研辅导安排",
    "关心同学们的心理健康状况，提醒大家遇到困难及时向辅导员和心理中心求助",
    "了解宿舍热水供应、网络和空调使用情况，现场查看了公共洗衣房",
    "听取同学们对食堂饭菜质量和价格的意见",
    "介绍国家奖助学金和勤工助学政策，询问家庭经济困难学生的生活情况",
    "强调实验室安全规范，检查了危化品登记和值班记录",
    "与同学们一起学习党的二十届三中全会精神，交流学习体会",
    "了解临床实习安排和带教情况，听取实习同学的困难和想法",
    "就图书馆开放时间和自习座位预约情况听取意见",
    "了解志愿服务开展情况，肯定了同学们的奉献精神",
    "询问毕业班同学的论文进度和求职进展，勉励大家坚定信心",
]
CLOSINGS = [
    "同学们发言踊跃，气氛热烈。",
    "交流持续约一个半小时。",
    "会后与同学们合影留念。",
    "对同学们提出的问题逐一作了回应。",
    "",
]
FEEDBACK = [
    "希望延长图书馆晚间开放时间至23:00。",
    "建议食堂增加清真窗口的菜品种类。",
    "宿舍热水时有时无，希望尽快维修。",
    "希望增加考研自习室座位。",
    "建议就业指导讲座安排在晚上，避开实验课。",
    "希望实习医院提供更多动手操作机会。",
    "希望校园网在宿舍区更稳定。",
    "建议奖学金评定细则提前公示。",
]
REMARKS = ["", "", "", "已将宿舍热水问题转后勤保障处跟进。", "学生工作处辅导员陪同。", "相关意见已反馈教务处。"]


def leader_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")


def make_leaders(count: int, rng: random.Random) -> list[dict]:
    leaders = []
    for number in range(1, count + 1):
        department, positions = DEPARTMENTS[number % len(DEPARTMENTS)]
        leaders.append(
            {
                "id": f"T{2000 + number % 20}{number:04d}",
                "name": leader_name(rng),
                "department": department,
                "position": f"{'' if department == '学校领导' else department}{rng.choice(positions)}",
                "login": f"u{number:05d}",
                "email": f"u{number:05d}@example.edu.cn",
                "mobile": f"138{number:08d}",
                "active": rng.random() > 0.05,
            }
        )
    return leaders


def make_record(leader: dict, day: datetime.date, rng: random.Random, paragraphs: int = 1) -> dict:
    """One record's data; ``paragraphs`` > 1 makes a long 联系内容."""
    body = []
    for _ in range(paragraphs):
        topics = rng.sample(TOPICS, k=rng.randint(2, 4))
        body.append(rng.choice(OPENINGS) + "；".join(topics) + "。" + rng.choice(CLOSINGS))
    feedback = rng.sample(FEEDBACK, k=rng.choice([0, 1, 1, 2, 3]))
    return {
        "leader_id": leader["id"],
        "leader": leader["name"],
        "department": leader["department"],
        "position": leader["position"],
        "date": day,
        "place": rng.choice(PLACES),
        "size": rng.choice([6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 80, 120]),
        "target": rng.choice(TARGETS),
        "student_contact": "、".join(rng.sample(STUDENT_NAMES, k=rng.choice([1, 1, 2]))),
        "content": "\n".join(body),
        "feedback": "\n".join(f"{i}. {text}" for i, text in enumerate(feedback, 1)),
        "remarks": rng.choice(REMARKS),
    }


def write_repo(root: Path, leaders: list[dict], records: list[dict], rng: random.Random) -> None:
    """A complete liaison repository at ``root``: schema, config, roster and records."""
    root.mkdir(parents=True, exist_ok=True)
    if root.resolve() != ROOT:
        shutil.copytree(ROOT / "schema", root / "schema", dirs_exist_ok=True)
        shutil.copy(ROOT / "config.yaml", root / "config.yaml")
    (root / "roster.yaml").write_text(
        "# 领导干部名单：工号、姓名、部门、职务、统一身份认证账号、联系方式；离任者保留并写 active: false。\n"
        + dump_mapping({"leaders": leaders}),
        encoding="utf-8",
    )
    schema = Schema.load(ROOT / "schema" / "record.yaml")
    for data in records:
        record_id = new_record_id(data["date"], data["leader_id"], f"{rng.getrandbits(24):06x}")
        path = root / record_path(record_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_record(data, schema), encoding="utf-8")


def commit_repository(root: Path) -> None:
    """Make ``root`` a git repository with everything in one commit, with the project's templates and site."""
    import subprocess

    for folder in ("templates", "site"):
        if not (root / folder).exists():
            shutil.copytree(ROOT / folder, root / folder)
    who = ["-c", "user.name=bench", "-c", "user.email=bench@example.edu.cn"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", *who, "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", *who, "-C", str(root), "commit", "-q", "-m", "bench"], check=True)


def synthetic(
    root: Path,
    n_records: int,
    n_leaders: int,
    seed: int = 1,
    start: datetime.date = datetime.date(2006, 9, 1),
    end: datetime.date = datetime.date(2026, 7, 31),
) -> None:
    """A repository of ``n_records`` records of ``n_leaders`` leaders, dated between ``start`` and ``end``."""
    rng = random.Random(seed)
    leaders = make_leaders(n_leaders, rng)
    span = (end - start).days + 1
    records = [
        make_record(rng.choice(leaders), start + datetime.timedelta(days=rng.randrange(span)), rng)
        for _ in range(n_records)
    ]
    write_repo(root, leaders, records, rng)


DEMO_LEADERS = [
    ("T2008001", "王建国", "学校领导", "党委副书记", "wangjianguo", True),
    ("T2010002", "李明华", "学校领导", "副校长", "liminghua", True),
    ("T2012003", "赵敏", "学生工作处", "学生工作处处长", "zhaomin", True),
    ("T2015004", "张伟", "学生工作处", "学生工作处副处长", "zhangwei", True),
    ("T2016005", "张伟", "基础医学院", "基础医学院党委书记", "zhangwei2", True),
    ("T2014006", "陈静", "研究生院", "研究生院副院长", "chenjing", True),
    ("T2011007", "刘洋", "教务处", "教务处处长", "liuyang", False),
    ("T2018008", "阿依古丽·买买提", "护理学院", "护理学院党委副书记", "ayiguli", True),
]
# (semester's first and last usable day, how many records per leader id)
DEMO_SEMESTERS = [
    (
        (datetime.date(2025, 9, 1), datetime.date(2026, 1, 16)),
        {
            "T2008001": 3,
            "T2010002": 2,
            "T2012003": 4,
            "T2015004": 3,
            "T2016005": 2,
            "T2014006": 2,
            "T2011007": 3,
            "T2018008": 3,
        },
    ),
    (
        (datetime.date(2026, 2, 24), datetime.date(2026, 7, 10)),
        {"T2008001": 3, "T2010002": 3, "T2012003": 4, "T2015004": 2, "T2016005": 3, "T2014006": 3, "T2018008": 2},
    ),
    (
        (datetime.date(2026, 9, 1), datetime.date(2026, 11, 20)),
        {"T2008001": 3, "T2010002": 2, "T2012003": 4, "T2015004": 2, "T2016005": 3, "T2018008": 2},
    ),
]


def demo(root: Path) -> None:
    """The shipped demo: 8 leaders (one inactive, two named 张伟), records over three semesters."""
    rng = random.Random(20251)
    leaders = [
        {
            "id": i,
            "name": n,
            "department": d,
            "position": p,
            "login": login,
            "email": f"{login}@example.edu.cn",
            "mobile": f"1380000{k:04d}",
            "active": active,
        }
        for k, (i, n, d, p, login, active) in enumerate(DEMO_LEADERS, 1)
    ]
    by_id = {leader["id"]: leader for leader in leaders}
    records = []
    for (first, last), counts in DEMO_SEMESTERS:
        for leader_id, count in counts.items():
            for _ in range(count):
                day = first + datetime.timedelta(days=rng.randrange((last - first).days + 1))
                records.append(make_record(by_id[leader_id], day, rng))
    # One contact long enough to need a second page.
    records.append(make_record(by_id["T2012003"], datetime.date(2025, 11, 12), rng, paragraphs=26))
    records[-1]["remarks"] = "本次为全校学生工作专题调研，内容较长。"
    shutil.rmtree(root / "records", ignore_errors=True)
    write_repo(root, leaders, records, rng)
    (root / "records" / "README.md").write_text(
        "# 联系记录\n\n每次联系一个文件：`records/<年份>/<联系日期>-<工号>-<6位编号>.yaml`。"
        "请通过网页表单提交；手工修改后运行 `python build.py check` 检查。\n",
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--leaders", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--demo", action="store_true", help="write the shipped demo data into DIR")
    args = parser.parse_args()
    if args.demo:
        demo(args.dir.resolve())
    else:
        synthetic(args.dir, args.records, args.leaders, args.seed)


if __name__ == "__main__":
    main()
