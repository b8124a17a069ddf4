"""vLLM behind the `Generator` protocol, on the engine TRL builds and keeps in sync.

With `rollout.backend=vllm`, `grpo_args` sets TRL's `use_vllm` (+ mode and knobs), so TRL owns the engine's life:
colocate mode starts an in-process `vllm.LLM` per training process (sharing its GPU), server mode connects the
main process to a `trl vllm-serve` server; before every rollout TRL reloads the trained weights into it
(`VLLMGeneration.sync_weights`, which also handles LoRA merging, ZeRO-3 gathering and FSDP). This class only
generates: our rollout stage makes data-dependent calls (hint search levels, SEELE rounds, DAPO refills) whose
number differs between processes, so every call here is process-local, never a collective:

- colocate: `llm.generate` on this process's prompts, one `vllm.SamplingParams` per prompt, each with its own
  seed derived by hashing (call seed, position): consecutive calls (SEELE rounds, search levels use seeds s, s+1,
  ...) never share a stream, so a repeated prompt never repeats a sample;
- server: an HTTP request per call from each process (process 0 reuses TRL's client; the others open their own
  `VLLMClient`, which only generates; weight updates stay with process 0). One request carries one seed for all
  its prompts, and vLLM samples deterministically from (prompt, seed): the G copies of a group's prompt would
  come back identical. So each distinct prompt is sent once with n = its count (vLLM seeds the n children
  seed, seed+1, ...), as TRL's own server path does.
"""
from __future__ import annotations

import hashlib

from scaffold_rl.extras import require_extra
from scaffold_rl.rollout.generation import Completion, SamplingParams


def independent_seed(seed: int, index: int) -> int:
    """A seed for sample `index` of a call seeded `seed`, unrelated to (seed', index') for any other pair: a plain
    seed + index would make call s's sample i+1 reuse call s+1's sample i."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2**31 - 1)

def require_vllm():
    """vllm, or an ImportError that names the extra to install."""
    return require_extra("vllm", "vllm", "rollout.backend=vllm (CUDA GPUs only)")


class VLLMGenerator:
    """`generate(prompts, params, seed)` through TRL's `VLLMGeneration` (colocate) or a `VLLMClient` (server)."""

    def __init__(self, vllm_generation, tokenizer, eos_ids: set[int], process_index: int = 0, client=None):
        self.engine = vllm_generation
        self.mode = vllm_generation.mode
        if self.mode == "colocate" and getattr(vllm_generation, "tensor_parallel_size", 1) > 1:
            # a TP group must call generate with the same prompts at the same time; our calls are per process
            raise ValueError("rollout.vllm_tensor_parallel_size > 1 is not supported in colocate mode (rollout "
                             "calls are process-local); use vllm_mode=server with a tensor-parallel server")
        self.tokenizer = tokenizer
        self.eos_ids = set(eos_ids)
        self.process_index = process_index
        self._client = client
        self.tokens_generated = 0

    @classmethod
    def from_trainer(cls, trainer, tokenizer) -> VLLMGenerator:
        require_vllm()
        engine = getattr(trainer, "vllm_generation", None)
        if engine is None:
            raise RuntimeError("rollout.backend=vllm, but the trainer built no vLLM engine: its GRPOConfig must "
                               "come from train.trainer.grpo_args (use_vllm=True)")
        eos = set(trainer.eos_token_ids) if getattr(trainer, "eos_token_ids", None) else set()
        eos.add(tokenizer.eos_token_id)
        return cls(engine, tokenizer, eos - {None}, trainer.accelerator.process_index)

    def generate(self, prompts: list[list[int]], params: SamplingParams, seed: int | None = None) -> list[Completion]:
        if not prompts:
            return []
        if self.mode == "colocate":
            outs = self._generate_colocate(prompts, params, seed)
        else:
            outs = self._generate_server(prompts, params, seed)
        completions = [self.to_completion(ids, params.max_new_tokens) for ids in outs]
        self.tokens_generated += sum(len(c.ids) for c in completions)
        return completions

    def to_completion(self, ids, max_new_tokens: int) -> Completion:
        """Cut after the first eos (kept, like TransformersGenerator); no eos = truncated."""
        ids = list(ids)
        cut = next((k for k, t in enumerate(ids) if t in self.eos_ids), None)
        if cut is None:
            return Completion(ids=ids[:max_new_tokens], truncated=True)
        return Completion(ids=ids[: cut + 1], truncated=False)

    def sampling_kwargs(self, params: SamplingParams) -> dict:
        """Our SamplingParams in vLLM's terms (greedy = temperature 0; top_k 0 = off, as TRL passes it)."""
        if params.greedy:
            return {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "max_tokens": params.max_new_tokens}
        return {"temperature": params.temperature, "top_k": params.top_k, "top_p": params.top_p,
                "max_tokens": params.max_new_tokens}

    def _generate_colocate(self, prompts, params, seed):
        from vllm import SamplingParams as VLLMSamplingParams

        kw = self.sampling_kwargs(params)
        # one seed per prompt: reproducible, and independent of how prompts are batched or of the call's neighbours
        per_prompt = [VLLMSamplingParams(n=1, seed=None if seed is None else independent_seed(seed, i), **kw)
                      for i in range(len(prompts))]
        outputs = self.engine.llm.generate([{"prompt_token_ids": list(p)} for p in prompts],
                                           sampling_params=per_prompt, use_tqdm=False)
        return [o.outputs[0].token_ids for o in outputs]

    def _generate_server(self, prompts, params, seed):
        """Distinct prompts once each with n = their count (one request per distinct count), answers put back in
        the callers' order: repeated prompts get vLLM's child streams instead of one shared seed."""
        client = self._server_client()
        positions: dict[tuple[int, ...], list[int]] = {}
        for i, p in enumerate(prompts):
            positions.setdefault(tuple(p), []).append(i)
        by_count: dict[int, list[tuple[int, ...]]] = {}
        for key, where in positions.items():
            by_count.setdefault(len(where), []).append(key)
        out: list = [None] * len(prompts)
        for k, (count, keys) in enumerate(sorted(by_count.items())):
            extra = {} if seed is None else {"seed": independent_seed(seed, k)}
            res = client.generate(prompts=[list(key) for key in keys], n=count, logprobs=None,
                                  generation_kwargs=extra, **self.sampling_kwargs(params))
            ids = res["completion_ids"]
            if len(ids) != len(keys) * count:
                raise RuntimeError(f"vLLM server returned {len(ids)} completions for {len(keys)} prompts x n={count}")
            for j, key in enumerate(keys):  # vLLM returns each prompt's n children together, prompts in order
                for c, pos in enumerate(positions[key]):
                    out[pos] = ids[j * count + c]
        return out

    def _server_client(self):
        if self._client is None:
            self._client = getattr(self.engine, "vllm_client", None)  # process 0: TRL's (also syncs weights)
        if self._client is None:
            from trl.generation.vllm_client import VLLMClient

            e = self.engine
            base = e.server_base_url or f"http://{e.server_host}:{e.server_port}"
            self._client = VLLMClient(base_url=base, connection_timeout=e.server_timeout)
        return self._client
