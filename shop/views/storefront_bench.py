"""The bare view `make bench` measures pages against (mounted only with BENCHMARK_VIEWS=1)."""

from django.http import HttpResponse


def bare_view(request):
    return HttpResponse("ok", content_type="text/plain")
