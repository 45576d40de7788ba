"""``python build.py serve``: the web form leaders fill in, behind the single sign-on proxy."""

from __future__ import annotations

from pathlib import Path

import click

from liaison.cli.shared import UserError, command, data_option, said, say
from liaison.core.logs import configure_logging


@command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="监听地址；默认只对本机开放，由统一身份认证代理转发。"
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="监听端口。")
@click.option("--dev-login", is_flag=True, help="本机试用：以名单中任一领导干部的身份登录（只允许本机访问）。")
@data_option("数据目录：待同步的记录、Git 镜像、会话密钥")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="处理请求的线程数。")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, dev_login: bool, data: Path | None, threads: int) -> None:
    """运行网页表单：领导干部填写联系记录，提交为 GitLab 合并请求，并可立即下载 PDF。

    正式部署：放在学校统一身份认证代理之后；代理以 config.yaml 中 web.user_header 指定的请求头
    传来用户名，并以 web.secret_header 传来与环境变量 LIAISON_PROXY_SECRET 相同的密钥。
    记录推送到 web.remote（GitLab 仓库地址；留空则为本机内置的演示仓库）。

    \b
    示例：
      python build.py serve --dev-login                 # 本机试用
      LIAISON_PROXY_SECRET=... python build.py serve --port 8080
    """
    from liaison.web import ConfigurationError, create_app, start_workers
    from liaison.web.auth import is_loopback
    from liaison.web.server import create_server, raise_file_limit

    if dev_login and not is_loopback(host):
        raise UserError("开发模式登录只能在本机地址上运行（--host 127.0.0.1）。")
    with said(ConfigurationError):
        app = create_app(ctx.find_root().obj, data, dev_login=dev_login, start_worker=False)
    limits = app.config["LIAISON_LIMITS"]
    if problem := raise_file_limit(limits):
        raise UserError(problem)
    try:
        server = create_server(app, host, port, threads, limits)
    except OSError as err:
        raise UserError(
            f"无法在 {host}:{port} 上监听（{err.strerror or err}）。端口是否已被占用？可用 --port 换一个。"
        ) from None
    configure_logging("INFO")  # the service logs every delivery attempt and fetch for the administrator
    start_workers(app)
    say(f"表单服务：http://{host}:{port}/{'（开发模式登录，仅限本机）' if dev_login else ''}，按 Ctrl-C 停止。")
    server.run()  # until Ctrl-C or SIGTERM; waitress then stops its threads
