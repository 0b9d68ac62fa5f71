"""Digest categories for stories: the category a source gave, else the nearest category
prototype — the mean vector of the stories the sources did categorize, and a seed description."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from newsroom.agents.clusterer import FULL_TEXT_LIMIT, story_vectors
from newsroom.methods.embeddings import Embedder
from newsroom.models import SourceItem, Story

DEFAULT_CATEGORIES: dict[str, str] = {
    "政策与监管": "政府 监管 法规 立法 条例 政策 合规 安全预警 漏洞 风险 标识要求",
    "模型与技术进展": "大模型 发布 开源 模型 参数 推理 训练 基准 评测 技术 方法",
    "产品与应用发布": "推出 上线 产品 平台 应用 工具 功能 订阅 用户 服务",
    "投融资与并购": "融资 收购 并购 估值 投资 领投 亿美元 亿元 轮 独角兽",
    "行业落地与生态": "联盟 基金会 落地 案例 合作 生态 教育 赛事 城市 行业",
}


class CategoryClassifier:
    def __init__(self, embedder: Embedder, categories: Mapping[str, str] | None = None) -> None:
        self.embedder = embedder
        self.categories = dict(categories or DEFAULT_CATEGORIES)

    def assign(self, stories: Sequence[Story], items: Mapping[str, SourceItem]) -> dict[str, str]:
        names = list(self.categories)
        given: dict[str, str] = {}
        for story in stories:
            votes = Counter(
                str(items[i].category)
                for i in story.item_ids
                if items[i].category in self.categories
            )
            if votes:
                given[story.id] = votes.most_common(1)[0][0]
        vectors = story_vectors(
            stories, items, self.embedder, full_text=len(stories) <= FULL_TEXT_LIMIT
        )
        seeds = self.embedder.encode(
            [f"{name}：{words}" for name, words in self.categories.items()]
        )
        prototypes = []
        for index, name in enumerate(names):
            members = [vectors[i] for i, s in enumerate(stories) if given.get(s.id) == name]
            centre = np.mean([*members, seeds[index]], axis=0)
            prototypes.append(centre / max(float(np.linalg.norm(centre)), 1e-12))
        matrix = np.stack(prototypes)
        out = {}
        for i, story in enumerate(stories):
            out[story.id] = given.get(story.id) or names[int(np.argmax(matrix @ vectors[i]))]
        return out
