"""The provider interface every backend implements."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from piyasa_core.config.schema import ProviderConfig
from piyasa_core.llm.types import ChatRequest, Completion, ErrorClass, ProviderError
from piyasa_core.secrets import Secret, redact


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of a request that costs no generation (a models lookup)."""

    ok: bool
    detail: str
    error: ProviderError | None = None


class Provider(ABC):
    """One LLM backend. ``complete`` returns a :class:`Completion` or raises :class:`ProviderError`."""

    name: str = ""
    needs_key: bool = True
    is_llm: bool = True

    def __init__(self, config: ProviderConfig, api_key: Secret | None) -> None:
        self.config = config
        self.api_key = api_key

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def label(self) -> str:
        """How the provider is shown to operators."""
        return f"{self.name} ({self.model})"

    def missing_key_error(self) -> ProviderError | None:
        """An auth error without any request when the key variable is unset."""
        if self.needs_key and not self.api_key:
            env = self.config.api_key_env or "the API key variable"
            return ProviderError(self.name, ErrorClass.AUTH, f"no key: {env} is not set")
        return None

    async def complete(self, request: ChatRequest) -> Completion:
        """Generate once (no retries here: the router owns the policy)."""
        missing = self.missing_key_error()
        if missing:
            raise missing
        started = time.perf_counter()
        try:
            return await self._generate(request, started)
        except ProviderError:
            raise
        except Exception as exc:  # every SDK failure becomes one classified, secret-free error
            raise self.classify(exc) from None

    @abstractmethod
    async def _generate(self, request: ChatRequest, started: float) -> Completion:
        """Call the backend; ``started`` is the perf_counter at the start, for latency."""

    @abstractmethod
    def classify(self, exc: Exception) -> ProviderError:
        """Map an SDK exception to a :class:`ProviderError`."""

    @abstractmethod
    async def probe(self) -> ProbeResult:
        """Check key and model without generating (a models lookup where the API has one)."""

    async def aclose(self) -> None:
        """Release network resources."""

    def _unknown(self, exc: Exception) -> ProviderError:
        return ProviderError(self.name, ErrorClass.NETWORK, redact(f"{type(exc).__name__}: {exc}")[:300])

    def model_hint(self) -> str:
        return f"set [llm.providers.{self.name}] model or PIYASA_LLM__PROVIDERS__{self.name.upper()}__MODEL"
